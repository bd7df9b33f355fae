package backends

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func TestKindOf(t *testing.T) {
	_, statErr := os.Stat("/definitely/not/here")
	for _, tc := range []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, Unknown},
		{"plain", errors.New("boom"), Unknown},
		{"EOF", io.EOF, Unknown},
		{"fs.ErrNotExist", fs.ErrNotExist, NotExist},
		{"os.Stat missing", statErr, NotExist},
		{"ENOENT", syscall.ENOENT, NotExist},
		{"EACCES", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, Permission},
		{"canceled", context.Canceled, Canceled},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), Canceled},
		{"ENOSPC", &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, Permanent},
		{"EROFS", syscall.EROFS, Permanent},
		{"EAGAIN", syscall.EAGAIN, Transient},
		{"EINTR", syscall.EINTR, Transient},
		{"ETIMEDOUT", syscall.ETIMEDOUT, Transient},
		{"ECONNRESET", fmt.Errorf("read: %w", syscall.ECONNRESET), Transient},
		{"os deadline", os.ErrDeadlineExceeded, Transient},
		{"explicit kind wins", &Error{Kind: Transient, Err: fs.ErrNotExist}, Transient},
		{"unknown Error falls through", &Error{Err: syscall.ENOSPC}, Permanent},
		{"outer Error wins", &Error{Kind: Permission, Err: &Error{Kind: Transient}}, Permission},
		{"wrapped Error", fmt.Errorf("stage: %w", &Error{Kind: NotExist}), NotExist},
		{"Wrap classifies", Wrap("file", "write", "x", syscall.ENOSPC), Permanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindOf(tc.err); got != tc.want {
				t.Errorf("KindOf(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestPredicates(t *testing.T) {
	for k, want := range map[Kind][3]bool{ // IsNotExist, IsPermanent, IsTransient
		Unknown:    {false, false, false},
		NotExist:   {true, true, false},
		Permission: {false, true, false},
		Transient:  {false, false, true},
		Permanent:  {false, true, false},
		Canceled:   {false, false, false},
	} {
		err := &Error{Kind: k}
		got := [3]bool{IsNotExist(err), IsPermanent(err), IsTransient(err)}
		if got != want {
			t.Errorf("%v: IsNotExist, IsPermanent, IsTransient = %v, want %v", k, got, want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	cause := errors.New("no such file or directory")
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Kind: NotExist, Scheme: "file", Op: "open", Name: "train/x.npz", Err: cause},
			`file: open "train/x.npz": not exist: no such file or directory`},
		{&Error{Kind: NotExist, Scheme: "mem", Op: "stat", Name: "x"}, `mem: stat "x": not exist`},
		{&Error{Scheme: "s3", Op: "put", Name: "x", Err: cause}, `s3: put "x": no such file or directory`},
		{&Error{Kind: Transient, Op: "read", Err: cause}, `read: transient: no such file or directory`},
		{&Error{Kind: Kind(42)}, `Kind(42)`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestErrorInterop(t *testing.T) {
	cause := errors.New("404")
	err := fmt.Errorf("stage: %w", &Error{Kind: NotExist, Scheme: "s3", Op: "get", Name: "x", Err: cause})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is(NotExist error, fs.ErrNotExist) = false")
	}
	if !errors.Is(err, cause) {
		t.Error("Unwrap does not reach the cause")
	}
	if errors.Is(&Error{Kind: Transient}, fs.ErrNotExist) {
		t.Error("a transient error matches fs.ErrNotExist")
	}
	if !errors.Is(&Error{Kind: Permission}, fs.ErrPermission) {
		t.Error("a permission error does not match fs.ErrPermission")
	}
	if Wrap("file", "open", "x", nil) != nil {
		t.Error("Wrap(nil) != nil")
	}
}
