package httpapi

// What the handler tests of package httpapi_test need from inside the
// package to fake a use case where it belongs: at the interface the
// handler declares (the consumer side, STYLE.md), mocked with moq. This
// file exports those interfaces under aliases, their moq mocks
// (handler_mocks_test.go, generated), and UseCaseParts, which makes a
// UseCases for NewServer out of the few a test sets: the real router and
// middleware run, and only the route's own handler meets the mock.

//go:generate go tool moq -pkg httpapi -out handler_mocks_test.go . authenticator:AuthenticatorMock registerer:RegistererMock loginer:LoginerMock emailVerifier:EmailVerifierMock userGetter:UserGetterMock userCreator:UserCreatorMock userUpdater:UserUpdaterMock userDeleter:UserDeleterMock userLister:UserListerMock professionalUpgrader:ProfessionalUpgraderMock unlocker:UnlockerMock roleChanger:RoleChangerMock meReader:MeReaderMock meUpdater:MeUpdaterMock secondFactorLoginer:SecondFactorLoginerMock secondFactorManager:SecondFactorManagerMock secondFactorResetter:SecondFactorResetterMock

// The interfaces handlers declare that tests fake, under exported names.
type (
	Authenticator        = authenticator
	Registerer           = registerer
	Loginer              = loginer
	EmailVerifier        = emailVerifier
	UserGetter           = userGetter
	UserCreator          = userCreator
	UserUpdater          = userUpdater
	UserDeleter          = userDeleter
	UserLister           = userLister
	ProfessionalUpgrader = professionalUpgrader
	Unlocker             = unlocker
	RoleChanger          = roleChanger
	MeReader             = meReader
	MeUpdater            = meUpdater
	SecondFactorLoginer  = secondFactorLoginer
	SecondFactorManager  = secondFactorManager
	SecondFactorResetter = secondFactorResetter
)

// UseCaseParts is UseCases assembled from handlers' interfaces: a test
// sets the one its route's handler calls and, for a route with a caller,
// Authenticator. A part left nil, and any use case no field names, panics
// when called, which the server answers 500: a route that reaches another
// use case than the one the test faked fails the test.
type UseCaseParts struct {
	Authenticator
	Registerer
	Loginer
	EmailVerifier
	UserGetter
	UserCreator
	UserUpdater
	UserDeleter
	UserLister
	ProfessionalUpgrader
	Unlocker
	RoleChanger
	MeReader
	MeUpdater
	SecondFactorLoginer
	SecondFactorManager
	SecondFactorResetter

	// nopUseCases, one level deeper, supplies the use cases no part
	// names (its methods are shadowed by the parts').
	nopUseCases
}

var _ UseCases = UseCaseParts{}
