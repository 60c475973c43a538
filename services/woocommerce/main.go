// Command woocommerce is the woocommerce store connector.
package main

func main() {}
