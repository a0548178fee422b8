{{/* Chart name, cut to the 63 characters a label value allows. */}}
{{- define "bpfproxy.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped name for every object: "bpfproxy" when the release is called that. */}}
{{- define "bpfproxy.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "bpfproxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bpfproxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bpfproxy.labels" -}}
{{ include "bpfproxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "bpfproxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "bpfproxy.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where the host's cgroup v2 root appears inside the pod: passed as --cgroup. */}}
{{- define "bpfproxy.cgroupMount" -}}
/run/bpfproxy/cgroupv2
{{- end -}}

{{/* The agent's image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "bpfproxy.image" -}}
{{ printf "%s:%s" (required "image.repository is required: the image scripts/image.sh builds, or a copy in a registry" .Values.image.repository) (.Values.image.tag | default .Chart.AppVersion) | quote }}
{{- end -}}
