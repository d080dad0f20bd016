package calendar

import "time"

// StandingRules computes England and Wales's regular bank holidays for a
// year (Banking and Financial Dealings Act 1971 and the royal proclamations
// that fix them each year): New Year's Day, Good Friday, Easter Monday, the
// early May, spring and summer bank holidays, Christmas Day and Boxing Day,
// with a substitute weekday when New Year's Day, Christmas Day or Boxing Day
// fall at a weekend. One-off and moved holidays are not rules and are not
// here.
func StandingRules(year int) []Holiday {
	var out []Holiday
	add := func(d Date, title, notes string) { out = append(out, Holiday{Date: d, Title: title, Notes: notes}) }

	ny := Date{year, time.January, 1}
	switch ny.Weekday() {
	case time.Saturday:
		add(ny.AddDays(2), "New Year’s Day", "Substitute day")
	case time.Sunday:
		add(ny.AddDays(1), "New Year’s Day", "Substitute day")
	default:
		add(ny, "New Year’s Day", "")
	}
	easter := EasterSunday(year)
	add(easter.AddDays(-2), "Good Friday", "")
	add(easter.AddDays(1), "Easter Monday", "")
	add(firstMonday(year, time.May), "Early May bank holiday", "")
	add(lastMonday(year, time.May), "Spring bank holiday", "")
	add(lastMonday(year, time.August), "Summer bank holiday", "")

	xmas := Date{year, time.December, 25}
	boxing := Date{year, time.December, 26}
	switch xmas.Weekday() {
	case time.Friday: // Boxing Day on Saturday
		add(xmas, "Christmas Day", "")
		add(boxing.AddDays(2), "Boxing Day", "Substitute day")
	case time.Saturday:
		add(xmas.AddDays(2), "Christmas Day", "Substitute day")
		add(boxing.AddDays(2), "Boxing Day", "Substitute day")
	case time.Sunday: // Boxing Day keeps Monday; Christmas moves to Tuesday
		add(boxing, "Boxing Day", "")
		add(xmas.AddDays(2), "Christmas Day", "Substitute day")
	default:
		add(xmas, "Christmas Day", "")
		add(boxing, "Boxing Day", "")
	}
	return out
}

// EasterSunday is Western Easter for a Gregorian year (the anonymous
// Gregorian computus, as published by Meeus).
func EasterSunday(year int) Date {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return Date{year, time.Month(month), day}
}

func firstMonday(year int, m time.Month) Date {
	d := Date{year, m, 1}
	for d.Weekday() != time.Monday {
		d = d.AddDays(1)
	}
	return d
}

func lastMonday(year int, m time.Month) Date {
	d := Date{year, m + 1, 1}.AddDays(-1) // month 13 normalises to January
	for d.Weekday() != time.Monday {
		d = d.AddDays(-1)
	}
	return d
}
