// Placeholder: replaced by the benchmark driver.
print("tenure-bench")
