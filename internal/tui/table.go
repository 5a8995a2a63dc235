package tui

import "strings"

// column is one column of a table: a fixed width, or a share of the space left (flex, with a
// minimum of width, and want the width it would like before optional columns are shown).
// Columns with a higher prio are dropped first when the terminal is narrow.
type column struct {
	title string
	width int
	want  int
	flex  int
	right bool
	prio  int
}

// layout picks the columns that fit in width (one space between columns) and returns their
// indexes and widths. The lowest-priority columns go first; flex columns share what is left.
func layout(cols []column, width int) (idx []int, widths []int) {
	keep := make([]bool, len(cols))
	for i := range keep {
		keep[i] = true
	}
	need := func(wanted bool) int {
		n, k := 0, 0
		for i, c := range cols {
			if keep[i] {
				n += c.width
				if wanted && c.want > c.width {
					n += c.want - c.width
				}
				k++
			}
		}
		return n + max(0, k-1)
	}
	// Optional columns go first until the flexible ones have the width they want, then (if
	// the minimums still do not fit) more of them.
	for need(true) > width {
		worst := -1
		for i, c := range cols {
			if keep[i] && c.prio > 0 && (worst < 0 || c.prio >= cols[worst].prio) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		keep[worst] = false
	}
	spare := max(0, width-need(false))
	flexTotal := 0
	for i, c := range cols {
		if keep[i] {
			flexTotal += c.flex
		}
	}
	given := 0
	for i, c := range cols {
		if !keep[i] {
			continue
		}
		w := c.width
		if c.flex > 0 && flexTotal > 0 {
			extra := spare * c.flex / flexTotal
			w += extra
			given += extra
		}
		idx = append(idx, i)
		widths = append(widths, w)
	}
	// Rounding leftovers go to the last flex column, so rows fill the width exactly.
	for k := len(idx) - 1; k >= 0 && flexTotal > 0; k-- {
		if cols[idx[k]].flex > 0 {
			widths[k] += spare - given
			break
		}
	}
	return idx, widths
}

// row joins cells, fitting each to its column.
func row(cols []column, idx, widths []int, cell func(i int) string) string {
	var b strings.Builder
	for k, i := range idx {
		if k > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fit(cell(i), widths[k], cols[i].right))
	}
	return b.String()
}
