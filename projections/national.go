package projections

import (
	"strings"
)

// RegionEquity is one region's share of the scheme beside its share of the
// nation's children: the evidence the North West's principles ask for
// before further commitment ("a significant number of authorities outside
// the North West have made an equitable commitment").
type RegionEquity struct {
	Region          string  `json:"region"`
	ChildPopulation int     `json:"childPopulation"`
	ThresholdTotal  float64 `json:"thresholdTotal"` // sum of its authorities' 0.1% thresholds
	LookedAfter     int     `json:"lookedAfter"`
	ReceivedInYear  int     `json:"receivedInYear"`
	Pledged         int     `json:"pledged"` // sum of its authorities' pledges
	// ReceivedPer10k is referrals received this year per 10,000 children.
	ReceivedPer10k float64 `json:"receivedPer10000Children"`
	// ShareOfReceived and ShareOfChildren are its shares of the nation's
	// received this year and of its children, as fractions.
	ShareOfReceived float64 `json:"shareOfReceived"`
	ShareOfChildren float64 `json:"shareOfChildren"`
}

// NationalEquity is the national view: every region, with no referral-level
// data.
type NationalEquity struct {
	Year    string         `json:"year"`
	Regions []RegionEquity `json:"regions"`
}

// ReportNational puts the capacity and timeliness reports side by side
// for a calendar year ("2025"): received counts months of that year.
func ReportNational(capacity CapacityReport, timeliness TimelinessReport, year string) NationalEquity {
	out := NationalEquity{Year: year, Regions: []RegionEquity{}}
	received := map[string]int{}
	for _, row := range timeliness.ByRegionMonth {
		if strings.HasPrefix(row.Month, year+"-") {
			received[row.Region] += row.Received
		}
	}
	pledged := map[string]int{}
	for _, a := range capacity.Authorities {
		if a.Pledge != nil {
			pledged[a.Region] += *a.Pledge
		}
	}
	var children, all int
	for _, r := range capacity.Regions {
		e := RegionEquity{Region: r.Name, LookedAfter: r.LookedAfter, ReceivedInYear: received[r.Name], Pledged: pledged[r.Name]}
		if r.ChildPopulation != nil {
			e.ChildPopulation = *r.ChildPopulation
		}
		if r.Threshold != nil {
			e.ThresholdTotal = *r.Threshold
		}
		if e.ChildPopulation > 0 {
			e.ReceivedPer10k = float64(e.ReceivedInYear) * 10000 / float64(e.ChildPopulation)
		}
		children += e.ChildPopulation
		all += e.ReceivedInYear
		out.Regions = append(out.Regions, e)
	}
	for i := range out.Regions {
		if children > 0 {
			out.Regions[i].ShareOfChildren = float64(out.Regions[i].ChildPopulation) / float64(children)
		}
		if all > 0 {
			out.Regions[i].ShareOfReceived = float64(out.Regions[i].ReceivedInYear) / float64(all)
		}
	}
	return out
}
