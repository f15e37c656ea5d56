{{/* The name of every object: Bitnami's by default. */}}
{{- define "sealsync.fullname" -}}
{{- default (printf "%s-sealsync" .Release.Name) .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sealsync.selectorLabels" -}}
app.kubernetes.io/name: sealsync
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "sealsync.labels" -}}
{{ include "sealsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Cluster-scoped objects carry the release namespace in their name, so two
releases in two namespaces do not collide. */}}
{{- define "sealsync.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "sealsync.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
