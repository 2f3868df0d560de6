package pid1

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seedFiles are where systemd-random-seed and sysvinit's urandom script
// keep the entropy saved at the last shutdown.
var seedFiles = []string{"/var/lib/systemd/random-seed", "/var/lib/urandom/random-seed"}

// seedRandom feeds the root's saved random seed to the kernel when its
// random number generator is not ready yet: started as the kernel's init
// on a machine without a hardware RNG, nobody else does, and every
// getrandom (SSH key exchange, DHCP transaction IDs) would block for
// minutes. The seed is credited, as systemd does for a seed it wrote
// itself, then replaced so that the next boot does not reuse it.
func seedRandom(root string) []string {
	if crngReady() {
		return nil
	}
	for _, f := range seedFiles {
		path := filepath.Join(root, f)
		seed, err := os.ReadFile(path)
		if err != nil || len(seed) == 0 {
			continue
		}
		seed = seed[:min(len(seed), 512)]
		if err := addEntropy(seed); err != nil {
			return []string{fmt.Sprintf("random seed %s: %v", path, err)}
		}
		msg := fmt.Sprintf("the kernel's random generator was not ready: credited %d bytes of %s", len(seed), path)
		fresh := make([]byte, len(seed))
		if _, err := rand.Read(fresh); err == nil {
			if err := os.WriteFile(path, fresh, 0o600); err != nil {
				msg += "; refreshing it: " + err.Error()
			}
		}
		return []string{msg}
	}
	return []string{"the kernel's random generator is not ready and the root has no saved seed: SSH and DHCP wait for it"}
}

// crngReady reports whether getrandom(2) would return without blocking.
func crngReady() bool {
	var b [1]byte
	_, err := unix.Getrandom(b[:], unix.GRND_NONBLOCK)
	return !errors.Is(err, unix.EAGAIN)
}

// addEntropy is ioctl(RNDADDENTROPY): mix seed into the pool and credit
// it as 8 bits a byte.
func addEntropy(seed []byte) error {
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(seed))
	binary.NativeEndian.PutUint32(info[0:], uint32(len(seed)*8))
	binary.NativeEndian.PutUint32(info[4:], uint32(len(seed)))
	copy(info[8:], seed)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0])))
	if errno != 0 {
		return fmt.Errorf("ioctl(/dev/urandom, RNDADDENTROPY, %d bytes): %w", len(seed), errno)
	}
	return nil
}
