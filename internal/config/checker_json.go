package config

import (
	"encoding/json"
	"time"
)

// MarshalJSON dumps the checker flat, in the order of the fields before
// Ext was split off: Ext's after the common ones, misc_timeout between
// misc_path and misc_dynamic, pos last (the outer fields hide the
// embedded ones of the same name).
func (c Checker) MarshalJSON() ([]byte, error) {
	type plain Checker // without this method
	x := c.Extra()
	return json.Marshal(struct {
		plain
		*CheckerExtra
		MiscPath    *Script       `json:"misc_path,omitempty"`
		MiscTimeout time.Duration `json:"misc_timeout,omitempty"`
		MiscDynamic bool          `json:"misc_dynamic,omitempty"`
		Pos         Pos           `json:"pos"`
	}{plain(c), c.Ext, x.MiscPath, c.MiscTimeout, x.MiscDynamic, c.Pos})
}
