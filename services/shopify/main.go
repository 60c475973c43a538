// Command shopify is a dropsync service (being built).
package main

func main() {}
