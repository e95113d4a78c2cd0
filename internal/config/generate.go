package config

import (
	"fmt"
	"strings"
)

// GenerateLargeConfig writes the benchmark config: n virtual servers with
// four TCP_CHECKed real servers each (about 20 lines per virtual server).
func GenerateLargeConfig(n int) string {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id bench\n}\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "virtual_server 10.%d.%d.%d 80 {\n    delay_loop 5\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n", i>>16&255, i>>8&255, i&255)
		for r := 1; r <= 4; r++ {
			fmt.Fprintf(&b, "    real_server 172.16.%d.%d 80 {\n        weight %d\n        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n", i%250, r, r*4)
		}
		b.WriteString("}\n")
	}
	return b.String()
}
