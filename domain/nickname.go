package domain

import "fmt"

var (
	nicknameAdjectives = []string{
		"agile", "bold", "brave", "bright", "calm", "clever", "cosmic", "curious", "daring", "eager",
		"fancy", "fierce", "gentle", "happy", "honest", "jolly", "keen", "kind", "lively", "lucky",
		"mellow", "mighty", "nimble", "noble", "patient", "plucky", "proud", "quick", "quiet", "rapid",
		"serene", "sharp", "shiny", "silent", "smart", "snappy", "sunny", "swift", "tidy", "vivid",
		"witty", "zesty",
	}
	nicknameAnimals = []string{
		"badger", "bear", "beaver", "bison", "cat", "cheetah", "crane", "crow", "deer", "dolphin",
		"eagle", "falcon", "ferret", "fox", "gecko", "heron", "hippo", "ibex", "jaguar", "koala",
		"lemur", "lion", "lynx", "marmot", "moose", "otter", "owl", "panda", "panther", "parrot",
		"penguin", "puma", "rabbit", "raven", "seal", "shark", "sloth", "swan", "tiger", "turtle",
		"walrus", "whale", "wolf", "yak", "zebra",
	}
)

// GenerateNickname returns a nickname of the form adjective_animal_NNN.
// intn(n) must return a uniformly random int in [0, n); the caller retries
// with a new one while the nickname is taken.
func GenerateNickname(intn func(n int) int) string {
	return fmt.Sprintf("%s_%s_%03d",
		nicknameAdjectives[intn(len(nicknameAdjectives))],
		nicknameAnimals[intn(len(nicknameAnimals))],
		intn(1000))
}
