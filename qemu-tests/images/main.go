// Command images builds the qemu test guest images into the cache
// (`make images`), so that the tests and the demo find them ready.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/paroodise/paroodise/qemu-tests/vm"
)

func main() {
	log.SetFlags(log.Ltime)
	names := os.Args[1:]
	if len(names) == 0 {
		names = vm.Images
	}
	for _, name := range names {
		img, err := vm.EnsureImage(context.Background(), name, log.Printf)
		if err != nil {
			fmt.Fprintf(os.Stderr, "images: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("%s\t%s\n", name, img.Disk)
	}
}
