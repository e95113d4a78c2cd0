package bfd

import "os"

var readFile = os.ReadFile
