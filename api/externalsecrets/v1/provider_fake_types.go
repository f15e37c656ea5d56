package v1

// FakeProvider returns the static data it is configured with. It exists for
// tests and demos.
type FakeProvider struct {
	// Data are the remote secrets the provider holds.
	Data []FakeProviderData `json:"data"`
}

// FakeProviderData is one remote secret of the fake provider.
type FakeProviderData struct {
	// Key is the remote key the secret is found by.
	Key string `json:"key"`

	// Value is the secret's value. dataFrom extract reads it as a JSON map.
	Value string `json:"value"`

	// ValueMap is the secret's value as a map, read by dataFrom extract.
	//
	// Deprecated: ESO's v1 API dropped it; put a JSON map in value instead.
	// +optional
	ValueMap map[string]string `json:"valueMap,omitempty"`

	// Version is the version the secret is found by. When set, a remoteRef
	// must name the same version to read it.
	// +optional
	Version string `json:"version,omitempty"`
}
