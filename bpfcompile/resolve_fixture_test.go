package bpfcompile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileResolver resolves names from files in the formats of hosts(5),
// ethers(5), networks(5), services(5) and protocols(5), case-insensitively,
// as glibc does. Tests use it with fixture directories.
type FileResolver struct {
	hosts    map[string][]net.IP
	ethers   map[string]net.HardwareAddr
	networks map[string]uint32
	services map[string]servicePort
	protos   map[string]int
}

// NewFileResolver reads the files hosts, ethers, networks, services and
// protocols from dir. A missing file is an empty database.
func NewFileResolver(dir string) (*FileResolver, error) {
	r := &FileResolver{
		hosts:    map[string][]net.IP{},
		ethers:   map[string]net.HardwareAddr{},
		networks: map[string]uint32{},
		services: map[string]servicePort{},
		protos:   map[string]int{},
	}
	var err error
	if err = r.readHosts(filepath.Join(dir, "hosts")); err != nil {
		return nil, err
	}
	if m, err := readEthers(filepath.Join(dir, "ethers")); err == nil {
		r.ethers = m
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ethers in %s: %w", dir, err)
	}
	if m, err := readNetworks(filepath.Join(dir, "networks")); err == nil {
		r.networks = m
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("networks in %s: %w", dir, err)
	}
	if err = r.readServices(filepath.Join(dir, "services")); err != nil {
		return nil, err
	}
	if err = r.readProtocols(filepath.Join(dir, "protocols")); err != nil {
		return nil, err
	}
	return r, nil
}

func eachLine(path string, f func(fs []string)) error {
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("name file: %w", err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if fs := fields(sc.Text()); len(fs) > 0 {
			f(fs)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("name file %s: %w", path, err)
	}
	return nil
}

func (r *FileResolver) readHosts(path string) error {
	return eachLine(path, func(fs []string) {
		if len(fs) < 2 {
			return
		}
		ip := net.ParseIP(fs[0])
		if ip == nil {
			return
		}
		for _, name := range fs[1:] {
			k := strings.ToLower(name)
			r.hosts[k] = append(r.hosts[k], ip)
		}
	})
}

func (r *FileResolver) readServices(path string) error {
	return eachLine(path, func(fs []string) {
		if len(fs) < 2 {
			return
		}
		pp := strings.SplitN(fs[1], "/", 2)
		if len(pp) != 2 {
			return
		}
		port, err := strconv.Atoi(pp[0])
		if err != nil {
			return
		}
		for _, name := range append([]string{fs[0]}, fs[2:]...) {
			k := strings.ToLower(name)
			sp, ok := r.services[k]
			if !ok {
				sp = servicePort{-1, -1}
			}
			switch pp[1] {
			case "tcp":
				if sp.tcp < 0 {
					sp.tcp = port
				}
			case "udp":
				if sp.udp < 0 {
					sp.udp = port
				}
			}
			r.services[k] = sp
		}
	})
}

func (r *FileResolver) readProtocols(path string) error {
	return eachLine(path, func(fs []string) {
		if len(fs) < 2 {
			return
		}
		n, err := strconv.Atoi(fs[1])
		if err != nil {
			return
		}
		for _, name := range append([]string{fs[0]}, fs[2:]...) {
			k := strings.ToLower(name)
			if _, dup := r.protos[k]; !dup {
				r.protos[k] = n
			}
		}
	})
}

// LookupHost returns every address listed for name.
func (r *FileResolver) LookupHost(_ context.Context, name string) ([]net.IP, error) {
	if ips := r.hosts[strings.ToLower(name)]; len(ips) > 0 {
		return ips, nil
	}
	return nil, fmt.Errorf("host %q: %w", name, ErrNotFound)
}

// LookupEther returns the MAC address listed for name.
func (r *FileResolver) LookupEther(name string) (net.HardwareAddr, error) {
	if a, ok := r.ethers[strings.ToLower(name)]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("ether %q: %w", name, ErrNotFound)
}

// LookupNet returns the network number listed for name.
func (r *FileResolver) LookupNet(name string) (uint32, error) {
	if n, ok := r.networks[strings.ToLower(name)]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("network %q: %w", name, ErrNotFound)
}

// LookupPort returns the port of a service for "tcp" or "udp", -1 when the
// service has none for that protocol.
func (r *FileResolver) LookupPort(name, proto string) (int, error) {
	sp, ok := r.services[strings.ToLower(name)]
	if !ok {
		return -1, fmt.Errorf("service %q: %w", name, ErrNotFound)
	}
	if proto == "tcp" {
		return sp.tcp, nil
	}
	if proto == "udp" {
		return sp.udp, nil
	}
	return -1, nil
}

// LookupProto returns the number of an IP protocol name.
func (r *FileResolver) LookupProto(name string) (int, error) {
	if n, ok := r.protos[strings.ToLower(name)]; ok {
		return n, nil
	}
	return -1, fmt.Errorf("protocol %q: %w", name, ErrNotFound)
}
