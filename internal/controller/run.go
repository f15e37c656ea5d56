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

// Logger builds the logger the flags describe (see NewLogger); call
// Resolve first.
func (f *Flags) Logger() (logr.Logger, error) {
	return NewLogger(f.LogLevel, f.LogFormat, f.LogInfoToStdout, f.LogTimeEncoding)
}

// NewLogger builds the logger Bitnami's flags describe: level DEBUG, INFO,
// WARN or ERROR, format text or json, and info to stdout with errors to
// stderr when infoToStdout is set; times encoded as ESO's
// --zap-time-encoding says (epoch, millis, nanos, iso8601, rfc3339,
// rfc3339nano; zap reads anything else as epoch), ISO 8601 when empty.
func NewLogger(level, format string, infoToStdout bool, timeEncoding string) (logr.Logger, error) {
	var min zapcore.Level
	switch strings.ToUpper(level) {
	case "DEBUG":
		min = zapcore.DebugLevel
	case "INFO", "":
		min = zapcore.InfoLevel
	case "WARN", "WARNING":
		min = zapcore.WarnLevel
	case "ERROR":
		min = zapcore.ErrorLevel
	default:
		return logr.Logger{}, fmt.Errorf("--log-level %q: want DEBUG, INFO, WARN or ERROR", level)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	if timeEncoding != "" {
		if err := encCfg.EncodeTime.UnmarshalText([]byte(timeEncoding)); err != nil {
			return logr.Logger{}, fmt.Errorf("--zap-time-encoding %q: %w", timeEncoding, err)
		}
	}
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
