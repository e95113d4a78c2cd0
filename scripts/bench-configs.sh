# The benchmark configurations, shared by bench-lab.sh and
# bench-check-rounds.sh (source it; each function prints a keepalived.conf).

gen_sync() { # 10,000 x 4, no checkers
  awk 'BEGIN {
    for (i = 0; i < 10000; i++) {
      printf "virtual_server 10.%d.%d.1 80 {\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n", int(i/250), i%250
      for (r = 1; r <= 4; r++) printf "  real_server 172.16.%d.%d 80 {\n    weight %d\n  }\n", i%250, r, r
      print "}"
    } }'
}

gen_checks() { # 100 x 100 TCP_CHECK targets at 127.0.A.B:9000
  awk 'BEGIN {
    for (v = 0; v < 100; v++) {
      printf "virtual_server 10.60.%d.1 80 {\n  delay_loop 1\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n", v
      for (r = 0; r < 100; r++)
        printf "  real_server 10.61.%d.%d 80 {\n    weight 1\n    TCP_CHECK {\n      connect_ip 127.0.%d.%d\n      connect_port 9000\n      connect_timeout 3\n    }\n  }\n", v, r+1, v, r+1
      print "}"
    } }'
}
