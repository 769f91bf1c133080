#!/bin/sh
# shellcheck shell=sh
# Prints `vip` when the kernel can do IPVS load balancing (loaded, or a module of the running
# kernel), else `dnsrr`.
if [ -e /proc/net/ip_vs ] || modprobe -n ip_vs >/dev/null 2>&1; then echo vip; else echo dnsrr; fi
