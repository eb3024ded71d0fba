package events

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// field is one "key": value member of a test event; a value of "" removes the key.
type field struct{ key, val string }

// baseEnvelope and baseData are the members of a valid event of each type, as raw JSON.
var (
	baseEnvelope = []field{
		{"specversion", `"1.0"`}, {"id", `"ev-1"`}, {"source", `"agent://hv-1"`}, {"type", ""},
		{"time", `"2026-03-01T12:05:00Z"`}, {"tenantid", `"t-042"`},
	}
	baseData = map[Type][]field{
		TypeVPSSample: {
			{"resource_id", `"vps-1"`}, {"provider", `"hetzner"`}, {"region", `"fsn1"`}, {"plan", `"cx32"`},
			{"vcpus", `4`}, {"memory_mb", `8192`}, {"cpu_util", `0.5`}, {"mem_util", `0.25`}, {"interval_seconds", `60`},
		},
		TypeEmailVolume: {
			{"ip", `"198.51.100.7"`}, {"pool", `"tx"`}, {"provider", `"sendgrid"`}, {"sent", `10`}, {"delivered", `9`},
			{"bounced", `1`}, {"deferred", `0`}, {"complained", `0`}, {"interval_seconds", `300`},
		},
		TypeInventoryResource: {
			{"resource_id", `"vps-1"`}, {"kind", `"vps"`}, {"provider", `"hetzner"`}, {"region", `"fsn1"`},
			{"plan", `"cx32"`}, {"action", `"provisioned"`}, {"shared", `true`},
		},
	}
)

// build renders an event of type t with the envelope and data members overridden, removed (value
// "") or added by env and data. env["data"] replaces the whole data object.
func build(t Type, env, data map[string]string) []byte {
	dataJSON, ok := env["data"]
	if !ok {
		dataJSON = members(baseData[t], data)
	}
	envelope := append([]field{}, baseEnvelope...)
	envelope[3].val = `"` + string(t) + `"`
	envelope = append(envelope, field{"data", dataJSON})
	over := map[string]string{}
	for k, v := range env {
		if k != "data" {
			over[k] = v
		}
	}
	return []byte(members(envelope, over))
}

// members renders a JSON object of base with over applied; keys only in over come last, sorted.
func members(base []field, over map[string]string) string {
	var parts []string
	seen := map[string]bool{}
	put := func(k, v string) {
		if v != "" {
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
	}
	for _, f := range base {
		seen[f.key] = true
		v := f.val
		if o, ok := over[f.key]; ok {
			v = o
		}
		put(f.key, v)
	}
	extra := make([]string, 0, len(over))
	for k := range over {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		put(k, over[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestBuildHelper(t *testing.T) {
	ev, err := Decode(build(TypeVPSSample, nil, nil), DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, "vps-1", ev.VPS.ResourceID)
	raw := build(TypeEmailVolume, map[string]string{"id": "", "x": `1`}, map[string]string{"sent": `"a"`})
	require.NotContains(t, string(raw), `"id"`)
	require.Contains(t, string(raw), `"sent":"a"`)
	require.Contains(t, string(raw), `"x":1`)
}

func TestDecodeRejects(t *testing.T) {
	vps, email, inv := TypeVPSSample, TypeEmailVolume, TypeInventoryResource
	long := func(n int) string { return `"` + strings.Repeat("x", n) + `"` }
	tests := map[string]struct {
		raw   []byte // used when set
		typ   Type
		env   map[string]string
		data  map[string]string
		lim   Limits
		want  Reason
		field string
	}{
		// whole event
		"empty":             {raw: []byte(""), want: ReasonMalformed},
		"whitespace":        {raw: []byte(" \n\t"), want: ReasonMalformed},
		"null":              {raw: []byte("null"), want: ReasonMalformed},
		"array":             {raw: []byte("[]"), want: ReasonMalformed},
		"string":            {raw: []byte(`"{}"`), want: ReasonMalformed},
		"not json":          {raw: []byte("hello"), want: ReasonMalformed},
		"trailing comma":    {raw: []byte(`{"id":"x",}`), want: ReasonMalformed},
		"two objects":       {raw: []byte(`{}{}`), want: ReasonMalformed},
		"invalid utf8":      {raw: []byte("{\"id\":\"\xff\"}"), want: ReasonMalformed},
		"raw control char":  {raw: []byte("{\"id\":\"a\tb\"}"), want: ReasonMalformed},
		"bad escape":        {raw: []byte(`{"id":"\x41"}`), want: ReasonMalformed},
		"short unicode esc": {raw: []byte(`{"id":"\u12"}`), want: ReasonMalformed},
		"leading zero":      {typ: vps, data: map[string]string{"vcpus": `04`}, want: ReasonMalformed},
		"bare dot number":   {typ: vps, data: map[string]string{"cpu_util": `.5`}, want: ReasonMalformed},
		"NaN literal":       {typ: vps, data: map[string]string{"cpu_util": `NaN`}, want: ReasonMalformed},
		"Infinity literal":  {typ: vps, data: map[string]string{"cpu_util": `Infinity`}, want: ReasonMalformed},
		"plus sign":         {typ: vps, data: map[string]string{"vcpus": `+4`}, want: ReasonMalformed},
		"duplicate escaped key": {
			raw: []byte(`{"specversion":"1.0","id":"a","i\u0064":"b"}`), want: ReasonMalformed,
		},
		"duplicate data key": {
			raw:  []byte(`{"specversion":"1.0","data":{"sent":1,"sent":2}}`),
			want: ReasonMalformed,
		},
		"deep nesting in extension": {
			raw: []byte(`{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`), want: ReasonMalformed,
		},
		"oversized": {
			typ: vps, env: map[string]string{"pad": long(defaultMaxEventBytes)}, want: ReasonOversized,
		},
		"oversized custom limit": {
			typ: vps, lim: Limits{MaxEventBytes: 100}, want: ReasonOversized,
		},
		// specversion
		"specversion missing": {typ: vps, env: map[string]string{"specversion": ""}, want: ReasonBadSpecVersion, field: "specversion"},
		"specversion null":    {typ: vps, env: map[string]string{"specversion": `null`}, want: ReasonBadSpecVersion, field: "specversion"},
		"specversion 0.3":     {typ: vps, env: map[string]string{"specversion": `"0.3"`}, want: ReasonBadSpecVersion, field: "specversion"},
		"specversion number":  {typ: vps, env: map[string]string{"specversion": `1.0`}, want: ReasonBadSpecVersion, field: "specversion"},
		"specversion 1.0.0":   {typ: vps, env: map[string]string{"specversion": `"1.0.0"`}, want: ReasonBadSpecVersion, field: "specversion"},
		// id, source
		"id missing":      {typ: vps, env: map[string]string{"id": ""}, want: ReasonMissingField, field: "id"},
		"id null":         {typ: vps, env: map[string]string{"id": `null`}, want: ReasonMissingField, field: "id"},
		"id empty":        {typ: vps, env: map[string]string{"id": `""`}, want: ReasonMissingField, field: "id"},
		"id number":       {typ: vps, env: map[string]string{"id": `17`}, want: ReasonWrongType, field: "id"},
		"id 257 bytes":    {typ: vps, env: map[string]string{"id": long(257)}, want: ReasonOutOfRange, field: "id"},
		"id newline":      {typ: vps, env: map[string]string{"id": `"a\nb"`}, want: ReasonOutOfRange, field: "id"},
		"id escaped NUL":  {typ: vps, env: map[string]string{"id": `"a\u0000"`}, want: ReasonOutOfRange, field: "id"},
		"id C1 control":   {typ: vps, env: map[string]string{"id": `"a\u0085"`}, want: ReasonOutOfRange, field: "id"},
		"id DEL":          {typ: vps, env: map[string]string{"id": `"a` + "\x7f" + `"`}, want: ReasonOutOfRange, field: "id"},
		"source missing":  {typ: vps, env: map[string]string{"source": ""}, want: ReasonMissingField, field: "source"},
		"source too long": {typ: vps, env: map[string]string{"source": long(1025)}, want: ReasonOutOfRange, field: "source"},
		"source array":    {typ: vps, env: map[string]string{"source": `["a"]`}, want: ReasonWrongType, field: "source"},
		// type
		"type missing":       {typ: vps, env: map[string]string{"type": ""}, want: ReasonMissingField, field: "type"},
		"type unknown":       {typ: vps, env: map[string]string{"type": `"usage.gpu.sample"`}, want: ReasonUnknownType, field: "type"},
		"type case":          {typ: vps, env: map[string]string{"type": `"Usage.VPS.Sample"`}, want: ReasonUnknownType, field: "type"},
		"type suffix only":   {typ: vps, env: map[string]string{"type": `"vps.sample"`}, want: ReasonUnknownType, field: "type"},
		"type object":        {typ: vps, env: map[string]string{"type": `{}`}, want: ReasonWrongType, field: "type"},
		"type escaped known": {typ: vps, env: map[string]string{"type": `"usage.vps.sampl\u0065"`}, want: "", field: ""},
		// time
		"time missing":          {typ: vps, env: map[string]string{"time": ""}, want: ReasonMissingField, field: "time"},
		"time number":           {typ: vps, env: map[string]string{"time": `1767225600`}, want: ReasonWrongType, field: "time"},
		"time space":            {typ: vps, env: map[string]string{"time": `"2026-03-01 12:05:00Z"`}, want: ReasonOutOfRange, field: "time"},
		"time no zone":          {typ: vps, env: map[string]string{"time": `"2026-03-01T12:05:00"`}, want: ReasonOutOfRange, field: "time"},
		"time date only":        {typ: vps, env: map[string]string{"time": `"2026-03-01"`}, want: ReasonOutOfRange, field: "time"},
		"time hour 24":          {typ: vps, env: map[string]string{"time": `"2026-03-01T24:00:00Z"`}, want: ReasonOutOfRange, field: "time"},
		"time leap second":      {typ: vps, env: map[string]string{"time": `"2016-12-31T23:59:60Z"`}, want: ReasonOutOfRange, field: "time"},
		"time feb 29 non-leap":  {typ: vps, env: map[string]string{"time": `"2026-02-29T00:00:00Z"`}, want: ReasonOutOfRange, field: "time"},
		"time empty fraction":   {typ: vps, env: map[string]string{"time": `"2026-03-01T12:05:00.Z"`}, want: ReasonOutOfRange, field: "time"},
		"time offset no colon":  {typ: vps, env: map[string]string{"time": `"2026-03-01T12:05:00+0100"`}, want: ReasonOutOfRange, field: "time"},
		"time offset 24h":       {typ: vps, env: map[string]string{"time": `"2026-03-01T12:05:00+24:00"`}, want: ReasonOutOfRange, field: "time"},
		"time year 10000 utc":   {typ: vps, env: map[string]string{"time": `"9999-12-31T23:30:00-01:00"`}, want: ReasonOutOfRange, field: "time"},
		"time year -1 utc":      {typ: vps, env: map[string]string{"time": `"0000-01-01T00:30:00+01:00"`}, want: ReasonOutOfRange, field: "time"},
		"time unix with letter": {typ: vps, env: map[string]string{"time": `"2026-03-01T12:05:0aZ"`}, want: ReasonOutOfRange, field: "time"},
		// tenantid
		"tenant missing":   {typ: vps, env: map[string]string{"tenantid": ""}, want: ReasonMissingField, field: "tenantid"},
		"tenant empty":     {typ: vps, env: map[string]string{"tenantid": `""`}, want: ReasonMissingField, field: "tenantid"},
		"tenant number":    {typ: vps, env: map[string]string{"tenantid": `42`}, want: ReasonWrongType, field: "tenantid"},
		"tenant dot":       {typ: vps, env: map[string]string{"tenantid": `"t.1"`}, want: ReasonOutOfRange, field: "tenantid"},
		"tenant star":      {typ: vps, env: map[string]string{"tenantid": `"*"`}, want: ReasonOutOfRange, field: "tenantid"},
		"tenant gt":        {typ: vps, env: map[string]string{"tenantid": `">"`}, want: ReasonOutOfRange, field: "tenantid"},
		"tenant space":     {typ: vps, env: map[string]string{"tenantid": `"t 1"`}, want: ReasonOutOfRange, field: "tenantid"},
		"tenant unicode":   {typ: vps, env: map[string]string{"tenantid": `"tü"`}, want: ReasonOutOfRange, field: "tenantid"},
		"tenant 65 chars":  {typ: vps, env: map[string]string{"tenantid": long(65)}, want: ReasonOutOfRange, field: "tenantid"},
		"tenant 64 chars":  {typ: vps, env: map[string]string{"tenantid": long(64)}, want: ""},
		"tenant 1 char":    {typ: vps, env: map[string]string{"tenantid": `"_"`}, want: ""},
		"tenant all kinds": {typ: vps, env: map[string]string{"tenantid": `"aZ09_-"`}, want: ""},
		// datacontenttype, historical, data
		"dct xml":              {typ: vps, env: map[string]string{"datacontenttype": `"application/xml"`}, want: ReasonWrongType, field: "datacontenttype"},
		"dct json prefix only": {typ: vps, env: map[string]string{"datacontenttype": `"application/jsonl"`}, want: ReasonWrongType, field: "datacontenttype"},
		"dct cloudevents":      {typ: vps, env: map[string]string{"datacontenttype": `"application/cloudevents+json"`}, want: ReasonWrongType, field: "datacontenttype"},
		"dct number":           {typ: vps, env: map[string]string{"datacontenttype": `1`}, want: ReasonWrongType, field: "datacontenttype"},
		"dct charset":          {typ: vps, env: map[string]string{"datacontenttype": `"application/json; charset=utf-8"`}, want: ""},
		"dct upper case":       {typ: vps, env: map[string]string{"datacontenttype": `"Application/JSON"`}, want: ""},
		"dct null":             {typ: vps, env: map[string]string{"datacontenttype": `null`}, want: ""},
		"historical string":    {typ: vps, env: map[string]string{"historical": `"true"`}, want: ReasonWrongType, field: "historical"},
		"historical number":    {typ: vps, env: map[string]string{"historical": `1`}, want: ReasonWrongType, field: "historical"},
		"historical null":      {typ: vps, env: map[string]string{"historical": `null`}, want: ""},
		"data missing":         {typ: vps, env: map[string]string{"data": ""}, want: ReasonMissingField, field: "data"},
		"data null":            {typ: vps, env: map[string]string{"data": `null`}, want: ReasonMissingField, field: "data"},
		"data array":           {typ: vps, env: map[string]string{"data": `[]`}, want: ReasonWrongType, field: "data"},
		"data string":          {typ: vps, env: map[string]string{"data": `"{}"`}, want: ReasonWrongType, field: "data"},
		"data empty object":    {typ: vps, env: map[string]string{"data": `{}`}, want: ReasonMissingField, field: "data.resource_id"},
		"data_base64":          {typ: vps, env: map[string]string{"data_base64": `"e30="`}, want: ReasonWrongType, field: "data_base64"},
		"data_base64 null":     {typ: vps, env: map[string]string{"data_base64": `null`}, want: ""},
		"extensions ignored":   {typ: vps, env: map[string]string{"traceparent": `"00-ab-cd-01"`, "x": `{"a":[1,{"b":null}]}`, "subject": `"s"`}, want: ""},
		// usage.vps.sample
		"vps resource_id missing":   {typ: vps, data: map[string]string{"resource_id": ""}, want: ReasonMissingField, field: "data.resource_id"},
		"vps provider null":         {typ: vps, data: map[string]string{"provider": `null`}, want: ReasonMissingField, field: "data.provider"},
		"vps region empty":          {typ: vps, data: map[string]string{"region": `""`}, want: ReasonMissingField, field: "data.region"},
		"vps plan number":           {typ: vps, data: map[string]string{"plan": `32`}, want: ReasonWrongType, field: "data.plan"},
		"vps plan 128 bytes":        {typ: vps, data: map[string]string{"plan": long(128)}, want: ""},
		"vps plan 129 bytes":        {typ: vps, data: map[string]string{"plan": long(129)}, want: ReasonOutOfRange, field: "data.plan"},
		"vps plan 2-byte runes":     {typ: vps, data: map[string]string{"plan": `"` + strings.Repeat("é", 65) + `"`}, want: ReasonOutOfRange, field: "data.plan"},
		"vps region tab":            {typ: vps, data: map[string]string{"region": `"fsn\t1"`}, want: ReasonOutOfRange, field: "data.region"},
		"vps vcpus 0":               {typ: vps, data: map[string]string{"vcpus": `0`}, want: ReasonOutOfRange, field: "data.vcpus"},
		"vps vcpus 1":               {typ: vps, data: map[string]string{"vcpus": `1`}, want: ""},
		"vps vcpus 1024":            {typ: vps, data: map[string]string{"vcpus": `1024`}, want: ""},
		"vps vcpus 1025":            {typ: vps, data: map[string]string{"vcpus": `1025`}, want: ReasonOutOfRange, field: "data.vcpus"},
		"vps vcpus -1":              {typ: vps, data: map[string]string{"vcpus": `-1`}, want: ReasonOutOfRange, field: "data.vcpus"},
		"vps vcpus 2.5":             {typ: vps, data: map[string]string{"vcpus": `2.5`}, want: ReasonWrongType, field: "data.vcpus"},
		"vps vcpus 2.0":             {typ: vps, data: map[string]string{"vcpus": `2.0`}, want: ""},
		"vps vcpus 4e0":             {typ: vps, data: map[string]string{"vcpus": `4e0`}, want: ""},
		"vps vcpus string":          {typ: vps, data: map[string]string{"vcpus": `"4"`}, want: ReasonWrongType, field: "data.vcpus"},
		"vps vcpus bool":            {typ: vps, data: map[string]string{"vcpus": `true`}, want: ReasonWrongType, field: "data.vcpus"},
		"vps vcpus huge":            {typ: vps, data: map[string]string{"vcpus": `1e400`}, want: ReasonOutOfRange, field: "data.vcpus"},
		"vps memory_mb 0":           {typ: vps, data: map[string]string{"memory_mb": `0`}, want: ReasonOutOfRange, field: "data.memory_mb"},
		"vps memory_mb max":         {typ: vps, data: map[string]string{"memory_mb": `16777216`}, want: ""},
		"vps memory_mb max+1":       {typ: vps, data: map[string]string{"memory_mb": `16777217`}, want: ReasonOutOfRange, field: "data.memory_mb"},
		"vps memory_mb missing":     {typ: vps, data: map[string]string{"memory_mb": ""}, want: ReasonMissingField, field: "data.memory_mb"},
		"vps cpu_util 0":            {typ: vps, data: map[string]string{"cpu_util": `0`}, want: ""},
		"vps cpu_util 1":            {typ: vps, data: map[string]string{"cpu_util": `1`}, want: ""},
		"vps cpu_util 1.0":          {typ: vps, data: map[string]string{"cpu_util": `1.0`}, want: ""},
		"vps cpu_util -0":           {typ: vps, data: map[string]string{"cpu_util": `-0`}, want: ""},
		"vps cpu_util 1e-400":       {typ: vps, data: map[string]string{"cpu_util": `1e-400`}, want: ""},
		"vps cpu_util 1.0000001":    {typ: vps, data: map[string]string{"cpu_util": `1.0000001`}, want: ReasonOutOfRange, field: "data.cpu_util"},
		"vps cpu_util -0.0001":      {typ: vps, data: map[string]string{"cpu_util": `-0.0001`}, want: ReasonOutOfRange, field: "data.cpu_util"},
		"vps cpu_util 1e309":        {typ: vps, data: map[string]string{"cpu_util": `1e309`}, want: ReasonOutOfRange, field: "data.cpu_util"},
		"vps cpu_util -1e309":       {typ: vps, data: map[string]string{"cpu_util": `-1e309`}, want: ReasonOutOfRange, field: "data.cpu_util"},
		"vps cpu_util 50 (percent)": {typ: vps, data: map[string]string{"cpu_util": `50`}, want: ReasonOutOfRange, field: "data.cpu_util"},
		"vps cpu_util string":       {typ: vps, data: map[string]string{"cpu_util": `"0.5"`}, want: ReasonWrongType, field: "data.cpu_util"},
		"vps cpu_util NaN string":   {typ: vps, data: map[string]string{"cpu_util": `"NaN"`}, want: ReasonWrongType, field: "data.cpu_util"},
		"vps cpu_util null":         {typ: vps, data: map[string]string{"cpu_util": `null`}, want: ReasonMissingField, field: "data.cpu_util"},
		"vps mem_util 1.5":          {typ: vps, data: map[string]string{"mem_util": `1.5`}, want: ReasonOutOfRange, field: "data.mem_util"},
		"vps mem_util missing":      {typ: vps, data: map[string]string{"mem_util": ""}, want: ReasonMissingField, field: "data.mem_util"},
		"vps interval 0":            {typ: vps, data: map[string]string{"interval_seconds": `0`}, want: ReasonOutOfRange, field: "data.interval_seconds"},
		"vps interval 1":            {typ: vps, data: map[string]string{"interval_seconds": `1`}, want: ""},
		"vps interval 86400":        {typ: vps, data: map[string]string{"interval_seconds": `86400`}, want: ""},
		"vps interval 86401":        {typ: vps, data: map[string]string{"interval_seconds": `86401`}, want: ReasonOutOfRange, field: "data.interval_seconds"},
		"vps interval -60":          {typ: vps, data: map[string]string{"interval_seconds": `-60`}, want: ReasonOutOfRange, field: "data.interval_seconds"},
		"vps interval 60.5":         {typ: vps, data: map[string]string{"interval_seconds": `60.5`}, want: ReasonWrongType, field: "data.interval_seconds"},
		"vps unknown data fields":   {typ: vps, data: map[string]string{"gpu": `{"n":[1,2]}`, "sent": `"x"`}, want: ""},
		"vps first error wins":      {typ: vps, data: map[string]string{"provider": `1`, "vcpus": `0`}, want: ReasonWrongType, field: "data.provider"},
		// usage.email.volume
		"email ip missing":          {typ: email, data: map[string]string{"ip": ""}, want: ReasonMissingField, field: "data.ip"},
		"email ip number":           {typ: email, data: map[string]string{"ip": `3325256711`}, want: ReasonWrongType, field: "data.ip"},
		"email ip hostname":         {typ: email, data: map[string]string{"ip": `"mx.example.com"`}, want: ReasonOutOfRange, field: "data.ip"},
		"email ip cidr":             {typ: email, data: map[string]string{"ip": `"198.51.100.0/24"`}, want: ReasonOutOfRange, field: "data.ip"},
		"email ip leading zero":     {typ: email, data: map[string]string{"ip": `"198.51.100.07"`}, want: ReasonOutOfRange, field: "data.ip"},
		"email ip 5 octets":         {typ: email, data: map[string]string{"ip": `"1.2.3.4.5"`}, want: ReasonOutOfRange, field: "data.ip"},
		"email ip zone":             {typ: email, data: map[string]string{"ip": `"fe80::1%eth0"`}, want: ReasonOutOfRange, field: "data.ip"},
		"email ip brackets":         {typ: email, data: map[string]string{"ip": `"[2001:db8::1]"`}, want: ReasonOutOfRange, field: "data.ip"},
		"email ipv6":                {typ: email, data: map[string]string{"ip": `"2001:db8::1"`}, want: ""},
		"email pool missing":        {typ: email, data: map[string]string{"pool": ""}, want: ReasonMissingField, field: "data.pool"},
		"email provider too long":   {typ: email, data: map[string]string{"provider": long(129)}, want: ReasonOutOfRange, field: "data.provider"},
		"email sent missing":        {typ: email, data: map[string]string{"sent": ""}, want: ReasonMissingField, field: "data.sent"},
		"email delivered null":      {typ: email, data: map[string]string{"delivered": `null`}, want: ReasonMissingField, field: "data.delivered"},
		"email bounced -1":          {typ: email, data: map[string]string{"bounced": `-1`}, want: ReasonNegativeCount, field: "data.bounced"},
		"email deferred -1e2":       {typ: email, data: map[string]string{"deferred": `-1e2`}, want: ReasonNegativeCount, field: "data.deferred"},
		"email complained -0":       {typ: email, data: map[string]string{"complained": `-0`}, want: ""},
		"email sent 1.5":            {typ: email, data: map[string]string{"sent": `1.5`}, want: ReasonWrongType, field: "data.sent"},
		"email sent -1.5":           {typ: email, data: map[string]string{"sent": `-1.5`}, want: ReasonWrongType, field: "data.sent"},
		"email sent 1e-1":           {typ: email, data: map[string]string{"sent": `1e-1`}, want: ReasonWrongType, field: "data.sent"},
		"email sent 1.50e1":         {typ: email, data: map[string]string{"sent": `1.50e1`}, want: ""},
		"email sent string":         {typ: email, data: map[string]string{"sent": `"10"`}, want: ReasonWrongType, field: "data.sent"},
		"email sent max safe int":   {typ: email, data: map[string]string{"sent": `9007199254740991`}, want: ""},
		"email sent max safe int+1": {typ: email, data: map[string]string{"sent": `9007199254740992`}, want: ReasonOutOfRange, field: "data.sent"},
		"email sent 2^64":           {typ: email, data: map[string]string{"sent": `18446744073709551616`}, want: ReasonOutOfRange, field: "data.sent"},
		"email interval missing":    {typ: email, data: map[string]string{"interval_seconds": ""}, want: ReasonMissingField, field: "data.interval_seconds"},
		"email interval 86401":      {typ: email, data: map[string]string{"interval_seconds": `86401`}, want: ReasonOutOfRange, field: "data.interval_seconds"},
		// inventory.resource
		"inv resource_id missing":  {typ: inv, data: map[string]string{"resource_id": ""}, want: ReasonMissingField, field: "data.resource_id"},
		"inv kind missing":         {typ: inv, data: map[string]string{"kind": ""}, want: ReasonMissingField, field: "data.kind"},
		"inv kind empty":           {typ: inv, data: map[string]string{"kind": `""`}, want: ReasonMissingField, field: "data.kind"},
		"inv kind number":          {typ: inv, data: map[string]string{"kind": `1`}, want: ReasonWrongType, field: "data.kind"},
		"inv kind VPS":             {typ: inv, data: map[string]string{"kind": `"VPS"`}, want: ReasonOutOfRange, field: "data.kind"},
		"inv kind ip":              {typ: inv, data: map[string]string{"kind": `"ip"`}, want: ""},
		"inv provider missing":     {typ: inv, data: map[string]string{"provider": ""}, want: ReasonMissingField, field: "data.provider"},
		"inv region absent":        {typ: inv, data: map[string]string{"region": ""}, want: ""},
		"inv region null":          {typ: inv, data: map[string]string{"region": `null`}, want: ""},
		"inv region number":        {typ: inv, data: map[string]string{"region": `1`}, want: ReasonWrongType, field: "data.region"},
		"inv plan too long":        {typ: inv, data: map[string]string{"plan": long(129)}, want: ReasonOutOfRange, field: "data.plan"},
		"inv action missing":       {typ: inv, data: map[string]string{"action": ""}, want: ReasonMissingField, field: "data.action"},
		"inv action deleted":       {typ: inv, data: map[string]string{"action": `"deleted"`}, want: ReasonOutOfRange, field: "data.action"},
		"inv action updated":       {typ: inv, data: map[string]string{"action": `"updated"`}, want: ""},
		"inv action decommisioned": {typ: inv, data: map[string]string{"action": `"decommissioned"`}, want: ""},
		"inv shared absent":        {typ: inv, data: map[string]string{"shared": ""}, want: ""},
		"inv shared string":        {typ: inv, data: map[string]string{"shared": `"true"`}, want: ReasonWrongType, field: "data.shared"},
		"inv shared 0":             {typ: inv, data: map[string]string{"shared": `0`}, want: ReasonWrongType, field: "data.shared"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			raw := tc.raw
			if raw == nil {
				typ := tc.typ
				if typ == "" {
					typ = TypeVPSSample
				}
				raw = build(typ, tc.env, tc.data)
			}
			lim := tc.lim
			if lim == (Limits{}) {
				lim = DefaultLimits()
			}
			ev, err := Decode(raw, lim)
			if tc.want == "" {
				require.NoError(t, err, "input: %s", raw)
				requireOneData(t, ev)
				return
			}
			require.Error(t, err, "input: %s", raw)
			var re *RejectError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.want, re.Reason, "error: %v", err)
			require.Equal(t, tc.want, ReasonOf(err))
			require.Equal(t, tc.field, re.Field, "error: %v", err)
			require.Equal(t, Event{}, ev)
			require.LessOrEqual(t, len(err.Error()), maxErrorBytes)
		})
	}
}

func requireOneData(t *testing.T, ev Event) {
	t.Helper()
	switch ev.Type {
	case TypeVPSSample:
		require.NotNil(t, ev.VPS)
		require.Nil(t, ev.Email)
		require.Nil(t, ev.Inventory)
	case TypeEmailVolume:
		require.NotNil(t, ev.Email)
		require.Nil(t, ev.VPS)
		require.Nil(t, ev.Inventory)
	case TypeInventoryResource:
		require.NotNil(t, ev.Inventory)
		require.Nil(t, ev.VPS)
		require.Nil(t, ev.Email)
	default:
		t.Fatalf("unknown type %q", ev.Type)
	}
}

func TestDecodeValues(t *testing.T) {
	t.Run("vps", func(t *testing.T) {
		ev, err := Decode(build(TypeVPSSample, map[string]string{"historical": `true`}, nil), DefaultLimits())
		require.NoError(t, err)
		require.Equal(t, Event{
			ID: "ev-1", Source: "agent://hv-1", Type: TypeVPSSample,
			Time:     time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC),
			TenantID: "t-042", Historical: true,
			VPS: &VPSSample{
				ResourceID: "vps-1", Provider: "hetzner", Region: "fsn1", Plan: "cx32",
				VCPUs: 4, MemoryMB: 8192, CPUUtil: 0.5, MemUtil: 0.25, IntervalSeconds: 60,
			},
		}, ev)
	})
	t.Run("email", func(t *testing.T) {
		ev, err := Decode(build(TypeEmailVolume, nil, map[string]string{"sent": `1.2e3`}), DefaultLimits())
		require.NoError(t, err)
		require.Equal(t, &EmailVolume{
			IP: "198.51.100.7", Pool: "tx", Provider: "sendgrid",
			Sent: 1200, Delivered: 9, Bounced: 1, IntervalSeconds: 300,
		}, ev.Email)
		require.False(t, ev.Historical)
	})
	t.Run("inventory defaults", func(t *testing.T) {
		ev, err := Decode(build(TypeInventoryResource, nil,
			map[string]string{"region": "", "plan": `null`, "shared": ""}), DefaultLimits())
		require.NoError(t, err)
		require.Equal(t, &InventoryResource{
			ResourceID: "vps-1", Kind: KindVPS, Provider: "hetzner", Action: ActionProvisioned,
		}, ev.Inventory)
	})
	t.Run("escapes", func(t *testing.T) {
		ev, err := Decode(build(TypeVPSSample,
			map[string]string{"id": `"\u00e9\ud83d\ude80\"\\\/"`, "source": `"\ud800x"`},
			map[string]string{"plan": `"c\u0078\u0033\u0032"`}), DefaultLimits())
		require.NoError(t, err)
		require.Equal(t, "é🚀\"\\/", ev.ID)
		require.Equal(t, "\uFFFDx", ev.Source, "a lone surrogate becomes U+FFFD, as in encoding/json")
		require.Equal(t, "cx32", ev.VPS.Plan)
	})
	t.Run("does not alias input", func(t *testing.T) {
		raw := build(TypeVPSSample, nil, nil)
		ev, err := Decode(raw, DefaultLimits())
		require.NoError(t, err)
		for i := range raw {
			raw[i] = 'X'
		}
		require.Equal(t, "ev-1", ev.ID)
		require.Equal(t, "vps-1", ev.VPS.ResourceID)
	})
}

func TestDecodeIP(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"ipv4":             {"198.51.100.7", "198.51.100.7"},
		"ipv6 compressed":  {"2001:db8::25", "2001:db8::25"},
		"ipv6 upper case":  {"2001:DB8::25", "2001:db8::25"},
		"ipv6 long form":   {"2001:0db8:0000:0000:0000:0000:0000:0025", "2001:db8::25"},
		"ipv4-mapped ipv6": {"::ffff:198.51.100.7", "198.51.100.7"},
		"ipv6 loopback":    {"::1", "::1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ev, err := Decode(build(TypeEmailVolume, nil, map[string]string{"ip": `"` + tc.in + `"`}), DefaultLimits())
			require.NoError(t, err)
			require.Equal(t, tc.want, ev.Email.IP)
		})
	}
}

func TestDecodeTime(t *testing.T) {
	tests := map[string]struct {
		in   string
		want time.Time
	}{
		"utc":                {"2026-03-01T12:05:00Z", time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)},
		"lower case t and z": {"2026-03-01t12:05:00z", time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)},
		"millis":             {"2026-03-01T12:05:00.123Z", time.Date(2026, 3, 1, 12, 5, 0, 123e6, time.UTC)},
		"nanos":              {"2026-03-01T12:05:00.123456789Z", time.Date(2026, 3, 1, 12, 5, 0, 123456789, time.UTC)},
		"beyond nanos":       {"2026-03-01T12:05:00.1234567891234Z", time.Date(2026, 3, 1, 12, 5, 0, 123456789, time.UTC)},
		"one digit fraction": {"2026-03-01T12:05:00.5Z", time.Date(2026, 3, 1, 12, 5, 0, 5e8, time.UTC)},
		"plus offset":        {"2026-03-01T12:05:00+02:00", time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC)},
		"minus offset":       {"2026-03-01T22:05:00.25-05:30", time.Date(2026, 3, 2, 3, 35, 0, 25e7, time.UTC)},
		"minus zero offset":  {"2026-03-01T12:05:00-00:00", time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)},
		"offset crosses yr":  {"2026-12-31T23:30:00-01:00", time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC)},
		"leap day":           {"2028-02-29T00:00:00Z", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		"year 2000 leap":     {"2000-02-29T00:00:00Z", time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)},
		"year 0":             {"0000-01-01T00:00:00Z", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		"year 9999":          {"9999-12-31T23:59:59.999999999Z", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ev, err := Decode(build(TypeVPSSample, map[string]string{"time": `"` + tc.in + `"`}, nil), DefaultLimits())
			require.NoError(t, err)
			require.True(t, tc.want.Equal(ev.Time), "got %s want %s", ev.Time, tc.want)
			require.Equal(t, time.UTC, ev.Time.Location())
			require.Equal(t, tc.want, ev.Time) // same representation, not just the same instant
			if std, err := time.Parse(time.RFC3339Nano, tc.in); err == nil {
				require.True(t, std.Equal(ev.Time), "agrees with time.Parse")
			}
		})
	}
	t.Run("1900 is not a leap year", func(t *testing.T) {
		_, err := Decode(build(TypeVPSSample, map[string]string{"time": `"1900-02-29T00:00:00Z"`}, nil), DefaultLimits())
		require.Equal(t, ReasonOutOfRange, ReasonOf(err))
	})
}

func TestParseInteger(t *testing.T) {
	tests := map[string]struct {
		in                            string
		v                             uint64
		neg, integral, overflow, fail bool
	}{
		"zero":            {in: "0", integral: true},
		"minus zero":      {in: "-0", integral: true},
		"minus zero frac": {in: "-0.000e-5", integral: true},
		"plain":           {in: "1234", v: 1234, integral: true},
		"negative":        {in: "-12", v: 12, neg: true, integral: true},
		"zero fraction":   {in: "12.000", v: 12, integral: true},
		"exponent":        {in: "12e3", v: 12000, integral: true},
		"upper E plus":    {in: "1.5E+1", v: 15, integral: true},
		"neg exp integer": {in: "1200e-2", v: 12, integral: true},
		"neg exp frac":    {in: "1201e-2", neg: false, integral: false},
		"fraction":        {in: "0.5", integral: false},
		"neg fraction":    {in: "-0.5", neg: true, integral: false},
		"max uint64":      {in: "18446744073709551615", v: 1<<64 - 1, integral: true},
		"2^64":            {in: "18446744073709551616", integral: true, overflow: true},
		"2^64 as exp":     {in: "1.8446744073709551616e19", integral: true, overflow: true},
		"big exp":         {in: "1e999999999999999999", integral: true, overflow: true},
		"tiny exp":        {in: "1e-999999999999999999", integral: false},
		"zero big exp":    {in: "0e999999999", integral: true},
		"leading zeros":   {in: "0.0001e4", v: 1, integral: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, neg, integral, overflow := parseInteger([]byte(tc.in))
			require.Equal(t, tc.integral, integral, "integral")
			require.Equal(t, tc.overflow, overflow, "overflow")
			if integral && !overflow {
				require.Equal(t, tc.v, v)
				require.Equal(t, tc.neg, neg, "neg")
			}
		})
	}
}

func TestLimits(t *testing.T) {
	require.Equal(t, Limits{MaxEventBytes: 64 << 10, MaxFuture: 5 * time.Minute}, DefaultLimits())
	raw := build(TypeVPSSample, nil, nil)
	_, err := Decode(raw, Limits{MaxEventBytes: len(raw)})
	require.NoError(t, err, "exactly at the limit")
	_, err = Decode(raw, Limits{MaxEventBytes: len(raw) - 1})
	require.Equal(t, ReasonOversized, ReasonOf(err))
	_, err = Decode(raw, Limits{})
	require.NoError(t, err, "zero limits mean defaults")
	big := build(TypeVPSSample, map[string]string{"pad": `"` + strings.Repeat("x", 64<<10) + `"`}, nil)
	_, err = Decode(big, Limits{})
	require.Equal(t, ReasonOversized, ReasonOf(err))
}

func TestCheckFuture(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := Event{Time: now}
	tests := map[string]struct {
		at   time.Time
		lim  Limits
		want Reason
	}{
		"now":                  {at: now},
		"past":                 {at: now.Add(-24 * time.Hour)},
		"exactly 5m ahead":     {at: now.Add(5 * time.Minute)},
		"5m1ns ahead":          {at: now.Add(5*time.Minute + 1), want: ReasonFutureTime},
		"a year ahead":         {at: now.AddDate(1, 0, 0), want: ReasonFutureTime},
		"custom limit ok":      {at: now.Add(time.Hour), lim: Limits{MaxFuture: 2 * time.Hour}},
		"custom limit refused": {at: now.Add(3 * time.Hour), lim: Limits{MaxFuture: 2 * time.Hour}, want: ReasonFutureTime},
		"other zone now":       {at: now.In(time.FixedZone("x", 3600))},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ev.Time = tc.at
			err := CheckFuture(ev, now, tc.lim)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tc.want, ReasonOf(err))
			var re *RejectError
			require.ErrorAs(t, err, &re)
			require.Equal(t, "time", re.Field)
		})
	}
}

func TestRejectError(t *testing.T) {
	require.Equal(t, "data.cpu_util: want 0..1", (&RejectError{Reason: ReasonOutOfRange, Field: "data.cpu_util", Detail: "want 0..1"}).Error())
	require.Equal(t, "invalid UTF-8", (&RejectError{Reason: ReasonMalformed, Detail: "invalid UTF-8"}).Error())
	long := &RejectError{Reason: ReasonTooLate, Field: "time", Detail: strings.Repeat("é", 300)}
	require.LessOrEqual(t, len(long.Error()), maxErrorBytes)
	require.True(t, strings.HasPrefix(long.Error(), "time: é"))

	wrapped := fmt.Errorf("consume: %w", reject(ReasonNegativeCount, "data.sent", "x"))
	require.Equal(t, ReasonNegativeCount, ReasonOf(wrapped))
	require.Equal(t, Reason(""), ReasonOf(errors.New("plain")))
	require.Equal(t, Reason(""), ReasonOf(nil))

	// However hostile the input, at most 200 bytes of it reach the message.
	for _, raw := range [][]byte{
		build(TypeVPSSample, map[string]string{"type": `"` + strings.Repeat("A", 5000) + `"`}, nil),
		build(TypeVPSSample, map[string]string{"tenantid": `"` + strings.Repeat("<", 60) + `"`}, nil),
		build(TypeVPSSample, map[string]string{"time": `"` + strings.Repeat("9", 5000) + `"`}, nil),
		build(TypeEmailVolume, nil, map[string]string{"ip": `"` + strings.Repeat("f", 120) + `"`}),
		build(TypeEmailVolume, nil, map[string]string{"sent": "1" + strings.Repeat("0", 5000) + ".5"}),
		build(TypeVPSSample, map[string]string{"specversion": `"` + strings.Repeat("B", 5000) + `"`}, nil),
		[]byte(`{"` + strings.Repeat("k", 5000) + `":1,"` + strings.Repeat("k", 5000) + `":2}`),
	} {
		_, err := Decode(raw, DefaultLimits())
		require.Error(t, err)
		require.LessOrEqual(t, len(err.Error()), maxErrorBytes, "%v", err)
	}
}

func TestReasonsAreSnakeCase(t *testing.T) {
	for _, r := range []Reason{
		ReasonMalformed, ReasonOversized, ReasonBadSpecVersion, ReasonUnknownType, ReasonMissingField,
		ReasonWrongType, ReasonOutOfRange, ReasonNegativeCount, ReasonFutureTime, ReasonTooLate, ReasonTooOld,
	} {
		require.Regexp(t, `^[a-z]+(_[a-z]+)*$`, string(r))
	}
}

// testdataFiles returns the samples in testdata/<dir>.
func testdataFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = b
	}
	return out
}

// invalidExpectation reads "<reason>__<field>__<what>.json"; field "-" means no field.
func invalidExpectation(t testing.TB, name string) (Reason, string) {
	t.Helper()
	parts := strings.Split(strings.TrimSuffix(name, ".json"), "__")
	require.Len(t, parts, 3, "invalid sample names are <reason>__<field>__<what>.json: %s", name)
	f := parts[1]
	if f == "-" {
		f = ""
	}
	return Reason(parts[0]), f
}

func TestTestdata(t *testing.T) {
	for name, raw := range testdataFiles(t, "valid") {
		t.Run("valid/"+name, func(t *testing.T) {
			ev, err := Decode(raw, DefaultLimits())
			require.NoError(t, err)
			requireOneData(t, ev)
			requireRoundTrip(t, ev)
		})
	}
	for name, raw := range testdataFiles(t, "invalid") {
		t.Run("invalid/"+name, func(t *testing.T) {
			reason, field := invalidExpectation(t, name)
			_, err := Decode(raw, DefaultLimits())
			require.Error(t, err)
			var re *RejectError
			require.ErrorAs(t, err, &re)
			require.Equal(t, reason, re.Reason, "%v", err)
			require.Equal(t, field, re.Field, "%v", err)
		})
	}
}

func TestTestdataValues(t *testing.T) {
	files := testdataFiles(t, "valid")
	ev, err := Decode(files["vps_sample_historical.json"], DefaultLimits())
	require.NoError(t, err)
	require.True(t, ev.Historical)
	require.Equal(t, time.Date(2025, 11, 30, 22, 59, 59, 123456789, time.UTC), ev.Time)
	require.Equal(t, LaneBackfill, LaneOf(ev))
	require.Equal(t, "backfill.vps.sample.t-042", Subject(ev))

	ev, err = Decode(files["unicode_and_escapes.json"], DefaultLimits())
	require.NoError(t, err)
	require.Equal(t, "événement-🚀", ev.ID)
	require.Equal(t, `agent://hôte/"q"`, ev.Source)
	require.Equal(t, uint32(60), ev.VPS.IntervalSeconds)
	require.InDelta(t, 0.5, ev.VPS.CPUUtil, 0)
}

// requireRoundTrip checks that Encode then Decode gives ev back.
func requireRoundTrip(t testing.TB, ev Event) {
	t.Helper()
	enc, err := Encode(ev)
	require.NoError(t, err)
	back, err := Decode(enc, DefaultLimits())
	require.NoError(t, err, "re-decoding %s", enc)
	require.Equal(t, ev, back)
}

func TestRoundTrip(t *testing.T) {
	for name, ev := range map[string]Event{
		"vps": {
			ID: "a", Source: "s", Type: TypeVPSSample, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), TenantID: "t",
			VPS: &VPSSample{ResourceID: "r", Provider: "p", Region: "g", Plan: "x", VCPUs: 1024, MemoryMB: 1, CPUUtil: 1, MemUtil: 0.1 + 0.2, IntervalSeconds: 86400},
		},
		"email historical": {
			ID: "<&>\u2028", Source: "s", Type: TypeEmailVolume, Time: time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC), TenantID: "T-_9", Historical: true,
			Email: &EmailVolume{IP: "2001:db8::1", Pool: "p", Provider: "q", Sent: maxCount, Delivered: 0, Bounced: 3, Deferred: 4, Complained: 5, IntervalSeconds: 1},
		},
		"inventory": {
			ID: "a", Source: "s", Type: TypeInventoryResource, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), TenantID: "t",
			Inventory: &InventoryResource{ResourceID: "r", Kind: KindIP, Provider: "p", Action: ActionDecommissioned},
		},
	} {
		t.Run(name, func(t *testing.T) { requireRoundTrip(t, ev) })
	}
}
