package mcpgw

import "syscall"

var syscallZero = syscall.Signal(0)

// childPIDs lists the processes of a stdio backend, for tests.
func (g *Gateway) childPIDs(backend string) []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rt := range g.routes {
		if b := rt.config().byName[backend]; b != nil {
			b.mu.Lock()
			br := b.bridge
			b.mu.Unlock()
			if br != nil {
				return br.ChildPIDs()
			}
		}
	}
	return nil
}
