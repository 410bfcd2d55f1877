{{/* The chart label: name-version, as Helm's own charts write it. */}}
{{- define "kmc-monitoring.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release labels, added to every object's own labels (never to selectors: those stay as compiled). */}}
{{- define "kmc-monitoring.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ include "kmc-monitoring.chart" . | quote }}
{{- end }}
