package discovery

import (
	"context"
	"errors"
)

// ErrDone is returned by Pager.NextPage after the last page.
var ErrDone = errors.New("discovery: no more pages")

// Pager walks every page of a discover query by following nextCursor; each
// matching record is visited exactly once, in serviceId order, even while
// records change. Not safe for concurrent use.
//
//	p := client.DiscoverAll(discovery.DiscoverQuery{Filter: discovery.Filter{Region: "eu-west1"}})
//	for p.Next(ctx) {
//		use(p.Service())
//	}
//	if err := p.Err(); err != nil { ... }
type Pager struct {
	client  *Client
	query   DiscoverQuery
	page    *DiscoverPage
	pos     int
	current Service
	done    bool
	err     error
}

// DiscoverAll returns a Pager over every record that matches q (its Index and
// Wait are ignored; Limit is the page size).
func (c *Client) DiscoverAll(q DiscoverQuery) *Pager {
	q.Index, q.Wait = 0, 0
	return &Pager{client: c, query: q}
}

// NextPage fetches the next page, or returns ErrDone after the last one.
// Do not mix it with Next on one Pager.
func (p *Pager) NextPage(ctx context.Context) (*DiscoverPage, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.done {
		return nil, ErrDone
	}
	page, err := p.client.Discover(ctx, p.query)
	if err != nil {
		p.err = err
		return nil, err
	}
	if page.NextCursor == nil {
		p.done = true
	} else {
		p.query.Cursor = *page.NextCursor
	}
	return page, nil
}

// Next advances to the next record, fetching pages as needed. It returns
// false at the end or on an error (see Err).
func (p *Pager) Next(ctx context.Context) bool {
	for p.page == nil || p.pos >= len(p.page.Services) {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false
		}
		p.page, p.pos = page, 0
	}
	p.current = p.page.Services[p.pos]
	p.pos++
	return true
}

// Service is the record Next advanced to.
func (p *Pager) Service() Service { return p.current }

// Err is the error that ended the walk, or nil.
func (p *Pager) Err() error { return p.err }
