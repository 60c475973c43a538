// Command wix is the wix store connector.
package main

func main() {}
