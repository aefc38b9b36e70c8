package store

// Get returns the value stored under key.
func Get(m map[string]int, key string) int { return m[key] }
