package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spendstream/spendstream/aggregates/cost/pricelist"
)

// DefaultPriceList is the example price list `run` loads from the checkout when --price-list is
// not given.
const DefaultPriceList = "deploy/pricelist.example.yaml"

// loadPrices loads the configured price list. An invalid file is refused with every problem and
// its line; no file configured gives an empty Holder (cost endpoints then answer 503).
func loadPrices(path string, log *slog.Logger) (*pricelist.Holder, error) {
	h := &pricelist.Holder{}
	if path == "" {
		log.Warn("no price list configured (--price-list): cost endpoints are unavailable")
		return h, nil
	}
	if err := h.Reload(path); err != nil {
		return nil, err
	}
	p := h.Current()
	log.Info("price list loaded", "path", path, "version", p.Version, "currency", p.Currency)
	return h, nil
}

// watchPrices reloads the price list on SIGHUP and, with every > 0, when the file's modification
// time changes. A bad file is refused (logged with its problems) and the current list stays.
func watchPrices(ctx context.Context, h *pricelist.Holder, path string, every time.Duration, log *slog.Logger) {
	if path == "" {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	mtime := modTime(path)
	reload := func(why string) {
		if err := h.Reload(path); err != nil {
			log.Error("price list refused; keeping the current one", "path", path, "trigger", why,
				"current_version", h.Current().Version, "err", err)
			return
		}
		log.Info("price list reloaded", "path", path, "trigger", why, "version", h.Current().Version)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			mtime = modTime(path)
			reload("SIGHUP")
		case <-tick:
			if m := modTime(path); !m.Equal(mtime) {
				mtime = m
				reload("file changed")
			}
		}
	}
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// checkPriceList is `spendstream pricelist check FILE`: it validates a price list and prints its
// problems with their lines.
func checkPriceList(path string) error {
	p, err := pricelist.Load(path)
	if err != nil {
		var ve *pricelist.ValidationError
		if errors.As(err, &ve) {
			for _, pr := range ve.Problems {
				fmt.Fprintln(os.Stderr, path+":"+pr.String())
			}
			return fmt.Errorf("%s: %d problems", path, len(ve.Problems))
		}
		return err
	}
	fmt.Printf("%s: valid, version %s, currency %s\n", path, p.Version, p.Currency)
	return nil
}
