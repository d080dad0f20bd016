package sagarun

import (
	"github.com/ntsflow/ntsflow/sagas/allocation"
	"github.com/ntsflow/ntsflow/sagas/leavingcare"
	"github.com/ntsflow/ntsflow/sagas/safeguarding"
)

// The durable consumers of the sagas the one runner runs, by the names
// their values give them: the metrics read their backlogs by these.
const (
	AllocationEventsConsumer    = allocation.EventsConsumer
	AllocationTimersConsumer    = allocation.TimersConsumer
	SafeguardingEventsConsumer  = safeguarding.EventsConsumer
	SafeguardingTimersConsumer  = safeguarding.TimersConsumer
	LeavingCareReferralConsumer = leavingcare.ReferralConsumer
	LeavingCareCareConsumer     = leavingcare.CareConsumer
	LeavingCareTimersConsumer   = leavingcare.TimersConsumer
)
