{{/*
The controller container's env, as a YAML list: everything the chart itself sets. controller.yaml
appends `config` and `extraEnv` and refuses a name that is already here.
*/}}
{{- define "piggy.env" -}}
{{- $fullname := include "piggy.fullname" . }}
{{- $mode := include "piggy.certificatesMode" . }}
{{- $host := include "piggy.listenHost" . }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- if contains "$(POD_IP)" $host }}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end }}
- name: LISTEN_ADDRESS
  value: {{ printf "%s:%v" $host .Values.listen.httpsPort | quote }}
- name: METRICS_ADDRESS
  value: {{ printf "%s:%v" $host .Values.listen.metricsPort | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: SHUTDOWN_DRAIN_DELAY
  value: {{ .Values.shutdown.drainDelay | quote }}
- name: AWS_REGION
  value: {{ required "aws.region is required: the default AWS region of the controller, for example --set aws.region=eu-west-1" .Values.aws.region | quote }}
{{- with .Values.aws.endpointUrl }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
- name: ACCESS_POLICY
  value: {{ .Values.accessPolicy | quote }}
- name: OPERATOR_ENABLED
  value: {{ .Values.operator.enabled | toString | quote }}
{{- if .Values.operator.enabled }}
- name: LEASE_NAMESPACE
  value: {{ include "piggy.leaseNamespace" . | quote }}
- name: LEASE_NAME
  value: {{ include "piggy.leaseName" . | quote }}
- name: DATA_HASH_KEY_SECRET
  value: {{ include "piggy.dataHashKeySecretName" . | quote }}
{{- end }}
- name: WEBHOOK_ENABLED
  value: {{ .Values.webhook.enabled | toString | quote }}
- name: PROXY_ENABLED
  value: {{ .Values.proxy.enabled | toString | quote }}
- name: PROXY_TOKEN_AUDIENCE
  value: {{ .Values.proxy.tokenAudience | quote }}
- name: PROXY_TOKEN_EXPIRATION
  value: {{ printf "%vs" (int .Values.proxy.tokenExpirationSeconds) | quote }}
{{- if .Values.proxy.acceptLegacyPods }}
- name: PROXY_ACCEPT_LEGACY_PODS
  value: "true"
{{- end }}
- name: PIGGY_ADDRESS
  value: {{ default (printf "https://%s.%s.svc:443" $fullname .Release.Namespace) .Values.piggyAddress | quote }}
- name: PIGGY_ENV_IMAGE
  value: {{ include "piggy.envImage" . | quote }}
- name: PIGGY_ENV_IMAGE_PULL_POLICY
  value: {{ .Values.piggyEnv.image.pullPolicy | quote }}
- name: PIGGY_ENV_DELIVERY
  value: {{ .Values.piggyEnv.delivery | default "auto" | quote }}
{{- $resources := .Values.piggyEnv.resources | default dict }}
{{- range $kind := list "requests" "limits" }}
{{- $set := get $resources $kind | default dict }}
{{- range $resource := list "cpu" "memory" }}
{{- with get $set $resource }}
- name: {{ printf "PIGGY_ENV_RESOURCE_%s_%s" (upper $resource) (upper (trimSuffix "s" $kind)) }}
  value: {{ . | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq $mode "auto" }}
- name: WEBHOOK_CERT_MANAGEMENT
  value: auto
- name: WEBHOOK_CERT_SECRET
  value: {{ include "piggy.certSecretName" . | quote }}
- name: WEBHOOK_SERVICE_NAME
  value: {{ $fullname | quote }}
- name: WEBHOOK_CONFIGURATION_NAME
  value: {{ $fullname | quote }}
- name: WEBHOOK_CERT_DIR
  value: /var/run/piggy/tls
{{- with .Values.certificates.extraNames }}
- name: WEBHOOK_CERT_EXTRA_NAMES
  value: {{ join "," . | quote }}
{{- end }}
- name: TLS_CERT_FILE
  value: /var/run/piggy/tls/tls.crt
- name: TLS_PRIVATE_KEY_FILE
  value: /var/run/piggy/tls/tls.key
{{- else }}
- name: WEBHOOK_CERT_MANAGEMENT
  value: files
- name: TLS_CERT_FILE
  value: /var/run/piggy/tls/tls.crt
- name: TLS_PRIVATE_KEY_FILE
  value: /var/run/piggy/tls/tls.key
- name: WEBHOOK_CA_BUNDLE_FILE
  value: /var/run/piggy/tls/ca.crt
{{- end }}
{{- end }}
