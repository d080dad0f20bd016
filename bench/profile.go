package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profileWindow takes serve's profiles over a window that starts now and
// lasts window: CPU, block and mutex (each the window's own, the delta
// pprof gives with ?seconds=), and a goroutine dump half way through,
// each written to dir as name.cpu, .block, .mutex and .goroutines. It
// returns a function that waits for them and says what failed.
func profileWindow(ctx context.Context, pprofAddr string, window time.Duration, dir, name string) func() error {
	secs := max(1, int(window.Seconds()))
	client := &http.Client{Timeout: window + 30*time.Second}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	get := func(path, file string, after time.Duration) {
		wg.Go(func() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(after):
			}
			err := fetchTo(client, "http://"+pprofAddr+"/debug/pprof/"+path, filepath.Join(dir, name+file))
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("profile %s: %w", path, err))
				mu.Unlock()
			}
		})
	}
	get(fmt.Sprintf("profile?seconds=%d", secs), ".cpu", 0)
	get(fmt.Sprintf("block?seconds=%d", secs), ".block", 0)
	get(fmt.Sprintf("mutex?seconds=%d", secs), ".mutex", 0)
	get("goroutine?debug=1", ".goroutines", window/2)
	return func() error {
		wg.Wait()
		if len(errs) > 0 {
			return errs[0]
		}
		return nil
	}
}

func fetchTo(client *http.Client, url, path string) error {
	res, err := client.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 500))
		return fmt.Errorf("%s: %s %s", url, res.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
