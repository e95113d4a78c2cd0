package config

// SSLContext is the top-level SSL block: file names and the key's
// password, as written (internal/check loads them).
type SSLContext struct {
	CA          string `json:"ca,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	Key         string `json:"key,omitempty"`
	Password    string `json:"password,omitempty"`
	Pos         Pos    `json:"pos"`
}
