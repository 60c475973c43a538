package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxStarts bounds the restarts of one process in a run.
const maxStarts = 1000

// Exit is a process ending the harness did not cause.
type Exit struct {
	Proc string
	At   time.Time
	// Err is how it ended ("exit status 1").
	Err string
	// Tail is the end of its log.
	Tail string
}

// Proc is one supervised OS process: started again after a kill (once its
// downtime is over) and after an exit of its own (after a second, as an
// orchestrator would), each exit of its own recorded.
type Proc struct {
	Name string
	Bin  string
	Args []string
	Env  []string
	Log  string // file the process's stdout and stderr are appended to

	mu      sync.Mutex
	cmd     *exec.Cmd
	down    time.Duration // set by Kill: the harness ended it
	killed  bool
	alive   bool
	stopped bool
	kills   int
	starts  int
	exits   []Exit
	done    chan struct{}
}

// Start starts the process and supervises it until Stop.
func (p *Proc) Start() error {
	if err := p.spawn(); err != nil {
		return err
	}
	p.done = make(chan struct{})
	go p.supervise()
	return nil
}

func (p *Proc) spawn() error {
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("%s: open log: %w", p.Name, err)
	}
	// Not bound to a context: the supervisor ends it (Kill, Stop).
	cmd := exec.CommandContext(context.Background(), p.Bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	// The process dies with the harness, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: start: %w", p.Name, err)
	}
	_ = f.Close() // the child holds its own descriptor
	p.mu.Lock()
	p.cmd, p.starts, p.alive = cmd, p.starts+1, true
	p.mu.Unlock()
	return nil
}

func (p *Proc) supervise() {
	defer close(p.done)
	for range maxStarts {
		p.mu.Lock()
		cmd := p.cmd
		p.mu.Unlock()
		err := cmd.Wait()
		p.mu.Lock()
		stopped, killed, down := p.stopped, p.killed, p.down
		p.killed, p.alive = false, false
		if !stopped && !killed {
			p.exits = append(p.exits, Exit{Proc: p.Name, At: time.Now(), Err: fmt.Sprint(err), Tail: tail(p.Log, 8)})
			down = time.Second
		}
		p.mu.Unlock()
		if stopped {
			return
		}
		time.Sleep(down)
		p.mu.Lock()
		stopped = p.stopped
		p.mu.Unlock()
		if stopped {
			return
		}
		if err := p.spawn(); err != nil {
			p.mu.Lock()
			p.exits = append(p.exits, Exit{Proc: p.Name, At: time.Now(), Err: err.Error()})
			p.mu.Unlock()
			return
		}
	}
}

// Kill SIGKILLs the process; it is started again after down.
func (p *Proc) Kill(down time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || p.killed || !p.alive {
		return
	}
	p.killed, p.down = true, down
	p.kills++
	_ = p.cmd.Process.Kill()
}

// Stop ends the process (SIGTERM, SIGKILL after grace) and its supervision.
func (p *Proc) Stop(grace time.Duration) {
	p.mu.Lock()
	p.stopped = true
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		if cmd != nil && cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
		<-p.done
	}
}

// Exits returns the exits the harness did not cause.
func (p *Proc) Exits() []Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Exit(nil), p.exits...)
}

// Counts returns how often the process was started and killed.
func (p *Proc) Counts() (starts, kills int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts, p.kills
}

// running reports whether the process is up (not between a kill and its
// restart).
func (p *Proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.alive && !p.killed
}

// waitRunning waits until the process is up again, or ctx ends.
func (p *Proc) waitRunning(ctx context.Context) error {
	for !p.running() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not running: %w", p.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(string(bytes.Join(lines, []byte("\n"))))
}
