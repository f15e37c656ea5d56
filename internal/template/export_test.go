package template

// ThreadCPU is threadCPU for the external tests.
var ThreadCPU = threadCPU
