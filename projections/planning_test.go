package projections

import (
	"testing"
	"time"
)

func TestTrainingPlaces(t *testing.T) {
	sum := func(s []PlaceShare) (n int) {
		for _, p := range s {
			n += p.Places
		}
		return
	}
	// 1,000 places among three authorities with 500, 300 and 200 children:
	// one each first, then 997 in proportion (498.5, 299.1, 199.4 -> the
	// largest remainder takes the last place).
	got := TrainingPlaces(map[string]int{"A": 500, "B": 300, "C": 200, "D": 0}, 1000)
	if len(got) != 3 || sum(got) != 1000 || got[0].Places != 500 || got[1].Places != 300 || got[2].Places != 200 {
		t.Fatalf("1000 places: %+v", got)
	}
	// Every authority with a child gets one when places allow.
	got = TrainingPlaces(map[string]int{"A": 1000, "B": 1, "C": 1}, 3)
	if got[0].Places != 1 || got[1].Places != 1 || got[2].Places != 1 {
		t.Fatalf("one each: %+v", got)
	}
	// Fewer places than authorities: the largest counts.
	got = TrainingPlaces(map[string]int{"A": 5, "B": 9, "C": 1}, 2)
	if sum(got) != 2 || got[0].Places != 1 || got[1].Places != 1 || got[2].Places != 0 {
		t.Fatalf("two places: %+v", got)
	}
	if got := TrainingPlaces(map[string]int{"A": 0}, 10); len(got) != 0 {
		t.Fatalf("no children: %+v", got)
	}
}

func TestForecast(t *testing.T) {
	now := time.Date(2025, 7, 15, 12, 0, 0, 0, time.UTC)
	region, own := map[string]int{}, map[string]int{}
	// The region received 10 a month for a year; the authority 2 of them.
	for i := 1; i <= 12; i++ {
		m := now.AddDate(0, -i, 0).Format("2006-01")
		region[m], own[m] = 10, 2
	}
	threshold := 63.903
	f := MakeForecast("E08000007", own, region, now, 50, &threshold, map[string]float64{"social worker": 15})
	if f.Rate != 10 || f.Share != 0.2 || len(f.Next) != 24 || f.Next[0].Month != "2025-08" || f.Next[0].Expected != 2 {
		t.Fatalf("forecast: rate %v share %v next %+v", f.Rate, f.Share, f.Next[:2])
	}
	// Room for 13.903 more: capped in the seventh month, nothing after.
	if f.Next[6].Expected != 1.9 || !f.Next[6].Capped || f.Next[7].Expected != 0 || f.YearOne != 13.9 || f.YearTwo != 0 {
		t.Fatalf("capped by the threshold: %+v year one %v two %v", f.Next[5:9], f.YearOne, f.YearTwo)
	}
	if len(f.Staff) != 1 || f.Staff[0].YearOnePosts != 5 || f.Staff[0].YearTwoPosts != 5 {
		t.Fatalf("staff: %+v", f.Staff)
	}
	if lo, hi := poissonInterval(2); lo != 0 || hi != 5 {
		t.Fatalf("poisson(2) 95%%: %d..%d", lo, hi)
	}
}
