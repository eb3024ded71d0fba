package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// pidCPU returns the user+system CPU time of process pid so far (0 when it cannot be read).
func pidCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0
	}
	fields := strings.Fields(s[i+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// clickhouseServerPID finds the one running ClickHouse server process on this machine (0 when
// there is none or more than one: then its CPU is not reported).
func clickhouseServerPID() int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	found := 0
	for _, d := range dirs {
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmd), "\x00")
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "clickhouse") {
			continue
		}
		if !strings.Contains(string(cmd), "server") {
			continue
		}
		if found != 0 {
			return 0
		}
		found, _ = strconv.Atoi(filepath.Base(d))
	}
	return found
}

// machineCPU returns the busy and total CPU time of the whole machine so far, summed over its
// cores (/proc/stat).
func machineCPU() (busy, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	var sum, idle int64
	for i, f := range fields[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		sum += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	tick := time.Second / 100
	return time.Duration(sum-idle) * tick, time.Duration(sum) * tick
}

// cpuSplit measures, between start and stop, the CPU time of spendstream, nats-server, the
// ClickHouse server, the benchmark process itself (its publishers, pollers and broker-alone clients)
// and the whole machine: where a phase's CPU went on this shared 2-core machine.
type cpuSplit struct {
	cons, nats, ch, self        func() time.Duration
	c0, n0, h0, s0, busy0, tot0 time.Duration
	selfUsed                    time.Duration // the benchmark process's CPU up to report
}

// startCPUSplit starts measuring; cons may be nil (a phase without spendstream).
func startCPUSplit(cons, natsProc *proc) *cpuSplit {
	none := func() time.Duration { return 0 }
	self := os.Getpid()
	s := &cpuSplit{cons: none, nats: natsProc.cpu, ch: none, self: func() time.Duration { return pidCPU(self) }}
	if cons != nil {
		s.cons = cons.cpu
	}
	if pid := clickhouseServerPID(); pid != 0 {
		s.ch = func() time.Duration { return pidCPU(pid) }
	}
	s.c0, s.n0, s.h0, s.s0 = s.cons(), s.nats(), s.ch(), s.self()
	s.busy0, s.tot0 = machineCPU()
	return s
}

// report returns one line: CPU per event of each process and the machine's busy share.
func (s *cpuSplit) report(events int, wall time.Duration) string {
	c, n, h, me := s.cons()-s.c0, s.nats()-s.n0, s.ch()-s.h0, s.self()-s.s0
	s.selfUsed = me
	busy, tot := machineCPU()
	busy, tot = busy-s.busy0, tot-s.tot0
	per := func(d time.Duration) string { return (d / time.Duration(events)).String() }
	chs := "n/a (no single local server)"
	if h > 0 {
		chs = per(h)
	}
	other := busy - c - n - h - me
	share := 0.0
	if tot > 0 {
		share = float64(busy) / float64(tot)
	}
	return fmt.Sprintf("CPU per event: spendstream %s, nats-server %s, ClickHouse %s, benchmark process %s, everything else %s; machine busy %.0f%% of its cores over %s",
		per(c), per(n), chs, per(me), per(max(other, 0)), 100*share, wall.Round(time.Millisecond))
}
