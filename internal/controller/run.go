package controller

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// NewLogger builds the logger Bitnami's flags describe: level DEBUG, INFO
// or ERROR, format text or json, and info to stdout with errors to stderr
// when infoToStdout is set.
func NewLogger(level, format string, infoToStdout bool) (logr.Logger, error) {
	var min zapcore.Level
	switch strings.ToUpper(level) {
	case "DEBUG":
		min = zapcore.DebugLevel
	case "INFO", "":
		min = zapcore.InfoLevel
	case "ERROR":
		min = zapcore.ErrorLevel
	default:
		return logr.Logger{}, fmt.Errorf("--log-level %q: want DEBUG, INFO or ERROR", level)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch format {
	case "text", "":
		enc = zapcore.NewConsoleEncoder(encCfg)
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	default:
		return logr.Logger{}, fmt.Errorf("--log-format %q: want text or json", format)
	}
	var out io.Writer = os.Stderr
	if infoToStdout {
		out = os.Stdout
	}
	low := zap.LevelEnablerFunc(func(l zapcore.Level) bool { return l >= min && l < zapcore.WarnLevel })
	high := zap.LevelEnablerFunc(func(l zapcore.Level) bool { return l >= min && l >= zapcore.WarnLevel })
	core := zapcore.NewTee(
		zapcore.NewCore(enc, zapcore.AddSync(out), low),
		zapcore.NewCore(enc, zapcore.AddSync(os.Stderr), high),
	)
	return zapr.NewLogger(zap.New(core)), nil
}

// RESTConfig returns the API server connection: the kubeconfig file if
// given, else in-cluster, else $KUBECONFIG / ~/.kube/config.
func RESTConfig(kubeconfig string, qps float32, burst int) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else if cfg, err = rest.InClusterConfig(); err != nil {
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client configuration: %w", err)
	}
	cfg.QPS, cfg.Burst = qps, burst
	if qps < 0 {
		// A negative QPS turns client-side rate limiting off, as Bitnami's.
		cfg.QPS = -1
	}
	cfg.UserAgent = "sealsync-controller"
	return cfg, nil
}

// Run builds the controller from opts and runs it until ctx is done.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	c, err := New(cfg, opts)
	if err != nil {
		return err
	}
	return c.Manager.Start(ctx)
}
