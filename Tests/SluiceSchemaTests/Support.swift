import SluiceSchema
import Testing
