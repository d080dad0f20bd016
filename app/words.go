package app

import "strings"

// A form's questions are a command's fields. The deciders word their
// refusals for the API's detail too, so a refusal about a choice lists the
// machine values ("the route must be \"hotel\" or \"entry-authority\""),
// which a person who picked from radios never typed. These are the same
// refusals in the words of the person at the form, kept here once so that
// every face that asks for a command's fields says the same.

// question is one field of a command as a form asks for it.
type question struct {
	// ask is what to do when the field is missing or holds no value the
	// form offers ("Select the placement type").
	ask string
	// noun names the field in a sentence ("the placement provider").
	noun string
	// choice is true when every refusal of the field means it is missing
	// or not one of the values offered, so ask answers all of them; a
	// free field's other refusals (too long, before the referral, in the
	// future) keep the decider's words.
	choice bool
}

var questions = map[string]map[string]question{
	"receive-referral": {
		"receivingAuthority":    {"Select the receiving authority", "the receiving authority", true},
		"route":                 {"Select how the referral came: from an interim hotel or from an entry authority", "the route", true},
		"hotel":                 {"Enter the interim hotel the child is coming from", "the interim hotel", false},
		"transferringAuthority": {"Select the authority transferring the child", "the transferring authority", false},
		"childReference":        {"Enter the child's reference, as the Home Office or the transferring authority gave it", "the child's reference", false},
		"claimedAge":            {"Enter the claimed age as a whole number of years from 0 to 17, such as 15", "the claimed age", true},
		"receivedAt":            {"Enter when the referral was received: a real date, and a time such as 14:30", "the time of receipt", false},
	},
	"notify-professionals": {
		"professions": {"Select at least one profession the referral form was sent to", "the professions", true},
		"notifiedBy":  {"Enter who sent the referral form", "who sent it", false},
	},
	"record-placement-search": {
		"track":          {"Select which track was searched: in-house or commissioned", "the track", true},
		"offersFound":    {"Enter how many offers were found, as a whole number such as 0 or 2", "the number of offers", true},
		"placementTypes": {"Enter the placement types offered as SSDA903 codes separated by spaces, such as U4 H5", "the placement types", false},
	},
	"request-age-assessment": {
		"method": {"Select who will assess the child's age", "who will assess", true},
		"reason": {"Enter why the age is disputed", "the reason", false},
	},
	"record-age-assessment": {
		"method":              {"Select who assessed the child's age", "who assessed", true},
		"outcome":             {"Select the outcome: assessed as a child, or as an adult", "the outcome", true},
		"assessedDateOfBirth": {"Enter the assessed date of birth as a real date, such as 27 3 2009, or leave it empty", "the assessed date of birth", false},
	},
	"place": {
		"placementType": {"Select the placement type", "the placement type", true},
		"provider":      {"Name the placement provider", "the placement provider", false},
		"placedAt":      {"Enter when the child was placed: a real date, and a time such as 14:30", "the time of placement", false},
	},
	"raise-allocation-exception": {
		"reason": {"Enter why your authority cannot take this child", "the reason", false},
	},
	"withdraw": {
		"reason": {"Select why the referral is withdrawn", "the reason", true},
		"detail": {"Enter the details", "the details", false},
	},
	"record-left-care": {
		"reason": {"Select why the child left care", "the reason", true},
		"leftAt": {"Enter when the child left care: a real date, and a time such as 14:30", "the date of leaving care", false},
	},
	"allocate": {
		"mode":      {"Select how to allocate the child: by the rota, or to another authority with a reason", "how to allocate", true},
		"authority": {"Select the authority, or allocate by the rota", "the authority", true},
		"reason":    {"Enter why you chose this authority", "the reason", false},
	},
	"pause-authority": {
		"authority": {"Select the authority to pause", "the authority", true},
		"reason":    {"Enter why the authority is paused", "the reason", false},
		"until":     {"Enter the last day of the pause as a real date, such as 31 1 2030", "the end of the pause", false},
	},
	"end-pause": {
		"authority": {"Select the authority whose pause ends", "the authority", true},
		"reason":    {"Enter why the pause ends early", "the reason", false},
	},
	"correct-child-detail": {
		"field":    {"Select which detail is wrong", "the detail", true},
		"newValue": {"Enter the right value: a date of birth as a real date such as 27 3 2010, a sex as female, male or unknown, or the nationality", "the right value", false},
		"reason":   {"Enter why the detail is wrong and where the right value comes from", "the reason", false},
	},
	"place-legal-hold": {
		"reason": {"Enter why the record must be kept: the inquiry, claim or complaint", "the reason", false},
	},
	"release-legal-hold": {
		"reason": {"Enter why the hold can be lifted", "the reason", false},
	},
	"set-rota": {
		"order": {"Give every authority a whole number: the rota runs from the lowest", "the order", true},
	},
}

// Ask is what a form says when the field of command (its CommandName) is
// missing or holds a value the form does not offer; "" for a field no form
// asks for.
func Ask(command, field string) string { return questions[command][field].ask }

// Say is a failure of command as the person at the form reads it,
// capitalised: a refusal about a choice in the choice's own words; a limit
// of aggregates.CheckInput with the field named as a person would ("The
// placement provider is longer than 200 characters"); anything else in the
// decider's words.
func Say(command string, o Outcome) string {
	q, ok := questions[command][o.Field]
	switch {
	case !ok || o.Kind != Invalid:
	case q.choice:
		return q.ask
	case strings.HasPrefix(o.Message, o.Field+" "):
		return capital(q.noun + strings.TrimPrefix(o.Message, o.Field))
	}
	return capital(o.Message)
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
