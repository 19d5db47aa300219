import LDAPClient
