package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// A team leader who uses only the keyboard signs in, receives a referral
// and sends its referral form: Tab to move, typing, Space and Enter, no
// click anywhere. Then another does the same in a browser with JavaScript
// turned off, which the console needs for nothing.
func TestConsoleByKeyboardAndWithoutScript(t *testing.T) {
	b := startBrowser(t)
	// Both routes two hours: a walk at the keyboard under -race can take
	// longer than the test policy's 3 s to the hotel route's warning, and
	// the warning would make the open form stale.
	r := newRigWith(t, rigOptions{signIn: true, deadlines: calmPolicy})

	// tabTo presses Tab until the control with the id has the focus, as a
	// person would, failing when it is not reached: a control the keyboard
	// cannot reach is the bug this finds.
	tabTo := func(ctx context.Context, id string) {
		t.Helper()
		for range 80 {
			if value(b, ctx, "the focus", chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`)) == id {
				return
			}
			b.run(ctx, "Tab towards #"+id, chromedp.KeyEvent(kb.Tab))
		}
		t.Fatalf("the keyboard does not reach #%s", id)
	}
	typeIn := func(ctx context.Context, id, text string) {
		t.Helper()
		tabTo(ctx, id)
		b.run(ctx, "type into #"+id, chromedp.KeyEvent(text))
	}
	press := func(ctx context.Context, id, key, waitFor string) {
		t.Helper()
		tabTo(ctx, id)
		b.run(ctx, "press on #"+id, chromedp.KeyEvent(key), chromedp.WaitVisible(chromedp.CSS(waitFor)))
	}

	// axe runs in the page's own script, so the walk without script checks
	// what it can read without it.
	walk := func(ctx context.Context, child, page string, axe bool) {
		t.Helper()
		b.run(ctx, "open the console", chromedp.Navigate(r.base+"/console/referrals/new"), chromedp.WaitVisible(chromedp.CSS("#token")))
		typeIn(ctx, "token", r.tokens["authority:E08000007"])
		b.run(ctx, "sign in with Enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#childReference")))

		// The receive form: the hotel route with Space, the hotel and the
		// child's reference typed; the date and time are filled in as now.
		tabTo(ctx, "route-0")
		b.run(ctx, "choose the hotel route with Space", chromedp.KeyEvent(" "))
		typeIn(ctx, "hotel", "Interim hotel, Kent")
		typeIn(ctx, "childReference", child)
		typeIn(ctx, "claimedAge", "16")
		press(ctx, "submit", kb.Enter, "#timeline")
		if n := b.text(ctx, ".notice"); !strings.Contains(n, "Referral received") {
			t.Errorf("%s: after receiving, notice %q", page, n)
		}
		if h := b.text(ctx, "h1"); !strings.Contains(h, child) {
			t.Errorf("%s: the referral's page is headed %q", page, h)
		}
		if axe {
			b.check(ctx, page+"-received")
		}

		// One action: the referral form, from the steps' link, with Enter.
		press(ctx, "action-notify", kb.Enter, "#notifiedBy")
		if axe {
			b.check(ctx, page+"-notify")
		}
		press(ctx, "submit", kb.Enter, ".notice")
		if n := b.text(ctx, ".notice"); !strings.Contains(n, "Referral form sent") {
			t.Errorf("%s: after sending the referral form, notice %q", page, n)
		}
		if s := b.text(ctx, "#step-notify-status"); !strings.Contains(s, "Sent to") {
			t.Errorf("%s: the step says %q", page, s)
		}
	}

	walk(b.person(), "HO-KEY-0001", "keyboard", true)

	noScript := b.person()
	b.run(noScript, "turn JavaScript off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	walk(noScript, "HO-NOJS-0002", "no-script", false)
	// GOV.UK Frontend's script marks the body when it runs: it must not
	// have, or this walk proved nothing about pages without script.
	if on := value(b, noScript, "the body's class", chromedp.Evaluate[string](`document.body.className`)); strings.Contains(on, "govuk-frontend-supported") {
		t.Errorf("JavaScript ran in the browser that had it turned off (body class %q)", on)
	}
}
