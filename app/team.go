package app

import (
	"context"

	"github.com/ntsflow/ntsflow/aggregates"
	"github.com/ntsflow/ntsflow/engine"
)

// Team reads the team of the authority code (its current ONS code): its
// social workers, their caseloads and the rota's next. Staff data: the
// authority reads its own, auditors every authority's.
func (u Teams) Team(ctx context.Context, c Caller, code string) (aggregates.Team, error) {
	if !c.ReadsTeam(code) {
		return aggregates.Team{}, c.forbidden("see or change the social workers of "+code+"; the authority does", "")
	}
	t, _, err := engine.Load(ctx, u.Engine.Store, aggregates.Teams, code)
	return t, err
}
