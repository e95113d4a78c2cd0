package check

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/track"
)

// FILE_CHECK, as keepalived 2.2.7's check_file.c and track_file.c
// (process_update_checker_track_file_status): the real server follows the
// value of a top-level track_file's file. With weight 0 a non-zero value
// (with reverse: zero) takes it down; otherwise value x weight (negated
// with reverse) is added to its weight, and a product at or below
// INT32_MIN (keepalived's IPVS_WEIGHT_FAULT) takes it down. keepalived
// acts on each change at once (no retry); the file is read every
// delay_loop (200 ms), and a value keepalived would reject keeps the last.

// fileVerdict is what value means for a FILE_CHECK of weight and reverse:
// the weight added to the real server's, or an error when it is down.
func fileVerdict(value int64, weight int, reverse bool) (delta int, err error) {
	if weight == 0 {
		if (value != 0) != reverse {
			return 0, fmt.Errorf("track file value %d: down (weight 0%s)", value, map[bool]string{true: " reverse"}[reverse])
		}
		return 0, nil
	}
	mult := int64(1)
	if reverse {
		mult = -1
	}
	p := value * int64(weight) * mult // |value| <= 2^31, |weight| < 2^31: no overflow
	if p <= math.MinInt32 {
		return 0, fmt.Errorf("track file value %d x weight %d: FAULT", value, weight*int(mult))
	}
	return int(min(p, math.MaxInt32)), nil
}

func fileProbe(c *config.Checker) Probe {
	var mu sync.Mutex
	var last int64 // keepalived's last_status starts at 0
	return func(context.Context) (int, error) {
		v, ok := track.ReadValue(c.Extra().TrackFilePath)
		mu.Lock()
		if ok {
			last = v
		} else {
			v = last
		}
		mu.Unlock()
		d, err := fileVerdict(v, c.Extra().FileWeight, c.Extra().FileReverse)
		if err != nil {
			err = fmt.Errorf("track_file %s (%s): %w", c.Extra().TrackFile, c.Extra().TrackFilePath, err)
		}
		return d, err
	}
}
