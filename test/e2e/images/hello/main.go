// Command hello is the smallest image the harness loads into a server's inner
// Docker engine to prove that a nested "docker run" works: nothing can be
// pulled on these machines.
package main

import "fmt"

func main() {
	fmt.Println("hello from a nested container")
}
