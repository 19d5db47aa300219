import TenureCore
