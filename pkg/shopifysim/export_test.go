package shopifysim

// ResetDocCache empties the cache of validated documents, so a benchmark
// can measure parsing and validating every request.
func ResetDocCache() {
	adminSchema.docs.mu.Lock()
	defer adminSchema.docs.mu.Unlock()
	adminSchema.docs.docs = nil
}
