package mountopt

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestFromFstab(t *testing.T) {
	tests := []struct {
		name     string
		opts     []string
		sloppy   bool
		flags    []string
		warnings int
		err      string // substring; "" for success
	}{
		{"issue example", []string{"_netdev,nosuid,nodev,nofail,rw,allow-delete"}, false, []string{"--allow-delete"}, 0, ""},
		{"values", []string{"allow-delete,region=us-east-1,uid=1000,prefix=some/"}, false,
			[]string{"--allow-delete", "--region=us-east-1", "--uid=1000", "--prefix=some/"}, 0, ""},
		{"ro", []string{"ro,_netdev"}, false, []string{"--read-only"}, 0, ""},
		{"posix mode", []string{"posix,cache-dir=/var/cache/bfs,max-cache-size=1024,max_rename_keys=500"}, false,
			[]string{"--posix", "--cache-dir=/var/cache/bfs", "--max-cache-size=1024", "--max-rename-keys=500"}, 0, ""},
		{"underscores", []string{"allow_other,auto_unmount"}, false, []string{"--allow-other", "--auto-unmount"}, 0, ""},
		{"endpoint with colon and slashes", []string{"endpoint-url=http://127.0.0.1:9000,force-path-style"}, false,
			[]string{"--endpoint-url=http://127.0.0.1:9000", "--force-path-style"}, 0, ""},
		{"value with '='", []string{"user-agent-prefix=a=b"}, false, []string{"--user-agent-prefix=a=b"}, 0, ""},
		{"several -o", []string{"rw", "allow-delete", "region=eu-west-1"}, false, []string{"--allow-delete", "--region=eu-west-1"}, 0, ""},
		{"generic ignored", []string{"defaults,auto,noauto,user,users,noexec,exec,suid,dev,relatime,noatime,x-systemd.automount,x-systemd.requires=network-online.target,comment=systemd.x"},
			false, nil, 0, ""},
		{"empty items", []string{",,allow-delete,"}, false, []string{"--allow-delete"}, 0, ""},
		{"unknown", []string{"allow-delete,bogus"}, false, nil, 0, `unknown option "bogus"`},
		{"unknown sloppy", []string{"allow-delete,bogus"}, true, []string{"--allow-delete"}, 1, ""},
		{"mount-s3 only", []string{"cache=/tmp/c"}, false, nil, 0, `"cache" is a mount-s3 option that bucketfs does not support`},
		{"missing value", []string{"region"}, false, nil, 0, `option "region" needs a value, as in "region=REGION"`},
		{"empty value", []string{"region="}, false, nil, 0, `option "region" needs a value`},
		{"value on boolean", []string{"allow-delete=yes"}, false, nil, 0, `option "allow-delete" takes no value`},
		{"foreground refused", []string{"foreground"}, false, nil, 0, "must not stay in the foreground"},
		{"remount refused", []string{"remount,ro"}, false, nil, 0, "remounting is not supported"},
		{"sync refused", []string{"sync"}, false, nil, 0, "synchronous writes are not supported"},
		{"refused even sloppy", []string{"bind"}, true, nil, 0, "bind mounts"},
		{"generic with value is an option", []string{"rw=1"}, false, nil, 0, `unknown option "rw"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags, warnings, err := FromFstab(tt.opts, tt.sloppy)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("FromFstab(%q) = %q, %v; want error containing %q", tt.opts, flags, err, tt.err)
				}
				var oe *Error
				if !errors.As(err, &oe) || oe.Option == "" {
					t.Errorf("error %v is not an *Error naming the option", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromFstab(%q): %v", tt.opts, err)
			}
			if !reflect.DeepEqual(flags, tt.flags) {
				t.Errorf("flags = %q, want %q", flags, tt.flags)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", warnings, tt.warnings)
			}
		})
	}
}

func TestParseItem(t *testing.T) {
	tests := []struct {
		item string
		want Option
		flag string
	}{
		{"allow-delete", Option{Name: "allow-delete"}, "--allow-delete"},
		{"--allow-delete", Option{Name: "allow-delete"}, "--allow-delete"},
		{"region us-east-1", Option{Name: "region", Value: "us-east-1", HasValue: true}, "--region=us-east-1"},
		{"  region   us-east-1 ", Option{Name: "region", Value: "us-east-1", HasValue: true}, "--region=us-east-1"},
		{"uid=1000", Option{Name: "uid", Value: "1000", HasValue: true}, "--uid=1000"},
		{"--prefix some/", Option{Name: "prefix", Value: "some/", HasValue: true}, "--prefix=some/"},
		{"--region=eu-west-1", Option{Name: "region", Value: "eu-west-1", HasValue: true}, "--region=eu-west-1"},
		{"endpoint-url http://h:9000/?a=b", Option{Name: "endpoint-url", Value: "http://h:9000/?a=b", HasValue: true}, "--endpoint-url=http://h:9000/?a=b"},
		{"allow_other", Option{Name: "allow_other"}, "--allow-other"},
	}
	for _, tt := range tests {
		got, err := ParseItem(tt.item)
		if err != nil || got != tt.want {
			t.Errorf("ParseItem(%q) = %+v, %v; want %+v", tt.item, got, err, tt.want)
			continue
		}
		flag, err := got.Flag()
		if err != nil || flag != tt.flag {
			t.Errorf("Flag of %q = %q, %v; want %q", tt.item, flag, err, tt.flag)
		}
	}
	if _, err := ParseItem("  "); err == nil {
		t.Error("ParseItem of a blank item succeeded")
	}
}

// TestTableIsConsistent: names are unique, short names too, and every flag
// is in a known help section.
func TestTableIsConsistent(t *testing.T) {
	long, short := map[string]bool{}, map[byte]bool{}
	secs := map[string]bool{}
	for _, s := range Sections {
		secs[s] = true
	}
	for _, f := range Mount {
		if long[f.Long] || (f.Short != 0 && short[f.Short]) {
			t.Errorf("flag %s defined twice", f.Long)
		}
		long[f.Long], short[f.Short] = true, true
		if !secs[f.Section] {
			t.Errorf("flag %s in unknown section %q", f.Long, f.Section)
		}
		if UnsupportedMountS3[f.Long] {
			t.Errorf("flag %s is both supported and unsupported", f.Long)
		}
		if got, ok := Lookup(f.Long); !ok || got != f {
			t.Errorf("Lookup(%q) = %+v, %v", f.Long, got, ok)
		}
	}
}
