package pricelist

import "sync/atomic"

// Holder holds the current price list for concurrent readers and swaps it only for a valid one:
// a Reload that fails leaves the current list in place. The zero Holder holds no list.
type Holder struct {
	cur atomic.Pointer[PriceList]
}

// NewHolder returns a Holder holding p (which may be nil).
func NewHolder(p *PriceList) *Holder {
	h := &Holder{}
	h.cur.Store(p)
	return h
}

// Current returns the current price list, or nil before any list was stored.
func (h *Holder) Current() *PriceList { return h.cur.Load() }

// Store makes p the current price list.
func (h *Holder) Store(p *PriceList) { h.cur.Store(p) }

// Reload loads the price list at path and makes it current. On error (an unreadable or invalid
// file, see Load) the current list is kept and the error returned; the caller logs it.
func (h *Holder) Reload(path string) error {
	p, err := Load(path)
	if err != nil {
		return err
	}
	h.cur.Store(p)
	return nil
}
