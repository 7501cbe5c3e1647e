package sqlstore

import "github.com/usersvc/usersvc/ports"

// UserListSQL returns the SELECT that ListUsers runs for q, in the store's
// dialect, with its arguments: tests EXPLAIN it.
func (s *Store) UserListSQL(q ports.UserQuery) (string, []any, error) {
	b, err := s.buildUserQuery(q)
	if err != nil {
		return "", nil, err
	}
	return s.q(b.list), b.listArgs, nil
}
