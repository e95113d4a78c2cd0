// Command genconfig prints the large benchmark configuration.
package main

import (
	"flag"
	"fmt"

	"github.com/lvsd/lvsd/internal/config"
)

func main() {
	n := flag.Int("n", 5000, "virtual servers")
	flag.Parse()
	fmt.Print(config.GenerateLargeConfig(*n))
}
