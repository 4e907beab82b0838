package csitest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/bucketfs/bucketfs/internal/cli"
)

// readJSONStrict decodes a JSON file into v, refusing unknown fields.
func readJSONStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// taskDefinition is the part of an ECS task definition the examples use.
type taskDefinition struct {
	Family                  string   `json:"family"`
	RequiresCompatibilities []string `json:"requiresCompatibilities"`
	NetworkMode             string   `json:"networkMode"`
	ContainerDefinitions    []struct {
		Name        string   `json:"name"`
		Image       string   `json:"image"`
		Essential   bool     `json:"essential"`
		Memory      int      `json:"memory"`
		Command     []string `json:"command"`
		MountPoints []struct {
			SourceVolume  string `json:"sourceVolume"`
			ContainerPath string `json:"containerPath"`
			ReadOnly      bool   `json:"readOnly"`
		} `json:"mountPoints"`
	} `json:"containerDefinitions"`
	Volumes []struct {
		Name string `json:"name"`
		Host *struct {
			SourcePath string `json:"sourcePath"`
		} `json:"host"`
	} `json:"volumes"`
}

// TestECSFiles: the task definition bind-mounts the host's mount point; the
// user data's placeholders are exactly the ones Terraform fills; the IAM
// policy grants what bucketfs uses and nothing more.
func TestECSFiles(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "deploy", "ecs")
	var td taskDefinition
	readJSONStrict(t, filepath.Join(dir, "task-definition.json"), &td)
	hostVolumes := map[string]string{}
	for _, v := range td.Volumes {
		if v.Host != nil {
			hostVolumes[v.Name] = v.Host.SourcePath
		}
	}
	tf := readText(t, filepath.Join(dir, "terraform", "main.tf"))
	mounted := 0
	for _, c := range td.ContainerDefinitions {
		for _, mp := range c.MountPoints {
			src, ok := hostVolumes[mp.SourceVolume]
			if !ok {
				t.Errorf("container %s mounts %q, which is not a host volume", c.Name, mp.SourceVolume)
				continue
			}
			mounted++
			if !strings.Contains(tf, `default = "`+src+`"`) {
				t.Errorf("host path %s is not the mount point Terraform's user data mounts", src)
			}
		}
	}
	if mounted == 0 || !contains(td.RequiresCompatibilities, "EC2") {
		t.Errorf("the task definition must bind-mount the host volume on EC2: %+v", td)
	}

	userData := filepath.Join(dir, "user-data.sh")
	if out, err := exec.Command("bash", "-n", userData).CombinedOutput(); err != nil {
		t.Errorf("bash -n user-data.sh: %v %s", err, out)
	}
	placeholders := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(readText(t, userData), -1) {
		placeholders[m[1]] = true
	}
	tmpl := regexp.MustCompile(`(?s)templatefile\([^{]*\{(.*?)\}\)\)`).FindStringSubmatch(tf)
	if tmpl == nil {
		t.Fatal("main.tf does not render user-data.sh with templatefile")
	}
	filled := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+)\s*=`).FindAllStringSubmatch(tmpl[1], -1) {
		filled[m[1]] = true
	}
	if got, want := keys(filled), keys(placeholders); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Terraform fills %v; user-data.sh has placeholders %v", got, want)
	}

	var policy struct {
		Version   string
		Statement []struct {
			Sid      string
			Effect   string
			Action   []string
			Resource []string
		}
	}
	readJSONStrict(t, filepath.Join(dir, "iam-policy.json"), &policy)
	granted := map[string]string{}
	for _, s := range policy.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %s: effect %s", s.Sid, s.Effect)
		}
		for _, a := range s.Action {
			for _, r := range s.Resource {
				if strings.Contains(a, "*") || r == "*" {
					t.Errorf("statement %s grants %s on %s: wildcards are not least privilege", s.Sid, a, r)
				}
				granted[a] = r
			}
		}
	}
	want := map[string]string{
		"s3:ListBucket":           "arn:aws:s3:::amzn-s3-demo-bucket",
		"s3:GetObject":            "arn:aws:s3:::amzn-s3-demo-bucket/*",
		"s3:PutObject":            "arn:aws:s3:::amzn-s3-demo-bucket/*",
		"s3:AbortMultipartUpload": "arn:aws:s3:::amzn-s3-demo-bucket/*",
		"s3:DeleteObject":         "arn:aws:s3:::amzn-s3-demo-bucket/*",
	}
	if len(granted) != len(want) {
		t.Errorf("policy grants %v, want exactly %v", granted, want)
	}
	for a, r := range want {
		if granted[a] != r {
			t.Errorf("policy grants %s on %q, want %q", a, granted[a], r)
		}
	}
	if !strings.Contains(tf, `"amzn-s3-demo-bucket", var.bucket_name`) {
		t.Error("main.tf does not substitute the bucket into iam-policy.json")
	}
}

// TestSystemdUnit: the unit's commands are valid bucketfs command lines once
// systemd has expanded the environment file of its header comment.
func TestSystemdUnit(t *testing.T) {
	unit := readText(t, filepath.Join(repoRoot(t), "deploy", "systemd", "bucketfs@.service"))
	env := map[string]string{"BUCKET": "my-bucket", "MOUNT_POINT": "/mnt/s3/data", "BUCKETFS_OPTIONS": "--allow-delete --region us-east-1 --allow-other"}
	lines := map[string][]string{}
	for _, l := range strings.Split(unit, "\n") {
		k, v, ok := strings.Cut(l, "=")
		if ok && !strings.HasPrefix(l, "#") {
			lines[k] = append(lines[k], v)
		}
	}
	if got := lines["Type"]; len(got) != 1 || got[0] != "forking" {
		t.Errorf("Type=%v: 'bucketfs mount' returns once the mount is live, so the unit must be Type=forking", got)
	}
	expand := func(cmd string) []string {
		var words []string
		for _, w := range strings.Fields(strings.TrimPrefix(cmd, "-")) {
			if name, ok := strings.CutPrefix(w, "$"); ok {
				name = strings.Trim(name, "{}")
				if strings.HasPrefix(w, "${") {
					words = append(words, env[name]) // ${VAR}: one word
				} else {
					words = append(words, strings.Fields(env[name])...) // $VAR: split
				}
				continue
			}
			words = append(words, w)
		}
		return words
	}
	start := expand(lines["ExecStart"][0])
	inv, err := cli.Parse(start[0], start[1:])
	if err != nil || inv.Command != cli.CommandMount || start[1] != "mount" {
		t.Fatalf("ExecStart %q: %+v, %v", start, inv, err)
	}
	if inv.Mount.S3.Bucket != "my-bucket" || inv.Mount.MountPoint != "/mnt/s3/data" || !inv.Mount.FS.AllowDelete || inv.Mount.Foreground {
		t.Errorf("ExecStart mounts %+v", inv.Mount)
	}
	for _, key := range []string{"ExecStop", "ExecStartPre"} {
		cmd := expand(lines[key][0])
		if inv, err := cli.Parse(cmd[0], cmd[1:]); err != nil || inv.Command != cli.CommandUnmount || inv.Dir != "/mnt/s3/data" {
			t.Errorf("%s %q: %+v, %v", key, cmd, inv, err)
		}
	}
}

// TestDockerfile: a multi-stage build of ./cmd/bucketfs whose version flag
// names the variable main.go has, and a final image with fuse3.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	df := readText(t, filepath.Join(root, "deploy", "docker", "Dockerfile"))
	var froms []string
	for _, l := range strings.Split(df, "\n") {
		if strings.HasPrefix(l, "FROM ") {
			froms = append(froms, l)
		}
		if f, ok := strings.CutPrefix(l, "COPY "); ok && !strings.HasPrefix(f, "--from") {
			for _, src := range strings.Fields(f)[:len(strings.Fields(f))-1] {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
			}
		}
	}
	if len(froms) < 2 || !strings.Contains(froms[0], " AS build") {
		t.Errorf("want a multi-stage build, got %q", froms)
	}
	final := df[strings.LastIndex(df, "\nFROM "):]
	for _, want := range []string{"fuse3", "ca-certificates", "COPY --from=build", `ENTRYPOINT ["/usr/local/bin/bucketfs"]`, "/sbin/mount.bucketfs"} {
		if !strings.Contains(final, want) {
			t.Errorf("the final stage lacks %q", want)
		}
	}
	if !strings.Contains(df, "-X main.version=") || !strings.Contains(readText(t, filepath.Join(root, "cmd", "bucketfs", "main.go")), "var version =") {
		t.Error("the Dockerfile's -X main.version does not name main.go's version variable")
	}
	if !strings.Contains(df, "go build") || !strings.Contains(df, "./cmd/bucketfs") {
		t.Error("the Dockerfile does not build ./cmd/bucketfs")
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
