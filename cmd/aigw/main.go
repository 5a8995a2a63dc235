// Command aigw is a terminal-first AI gateway.
package main

import (
	"os"

	"github.com/aigw/aigw/internal/cli"
)

func main() { os.Exit(int(cli.Main(os.Args[1:]))) }
