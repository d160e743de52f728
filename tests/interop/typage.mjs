// typage (npm age-encryption, pinned by package-lock.json): the second age implementation
// that tests/test_age_typage.py checks the camera's encryptor and the custodian's
// decryptor against. Plaintext and ciphertext go through stdin/stdout; keys come as
// arguments or in age identity files (`#` comments, one key a line), never from the
// project's own code.
//
//   node typage.mjs keygen [--pq]          prints the identity, then its recipient
//   node typage.mjs recipient FILE         prints the recipient of each identity in FILE
//   node typage.mjs encrypt RECIPIENT...   stdin -> age file on stdout
//   node typage.mjs decrypt FILE...        age file on stdin -> plaintext on stdout
import { readFileSync } from "node:fs";
import { webcrypto } from "node:crypto";
import * as age from "age-encryption";

globalThis.crypto ??= webcrypto;

function identities(path) {
    return readFileSync(path, "utf8").split("\n").map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("#"));
}

async function stdin() {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    return new Uint8Array(Buffer.concat(chunks));
}

const [command, ...args] = process.argv.slice(2);
if (command === "keygen") {
    const identity = args.includes("--pq")
        ? await age.generateHybridIdentity() : await age.generateX25519Identity();
    console.log(identity);
    console.log(await age.identityToRecipient(identity));
} else if (command === "recipient") {
    for (const identity of identities(args[0])) {
        console.log(await age.identityToRecipient(identity));
    }
} else if (command === "encrypt") {
    const encrypter = new age.Encrypter();
    for (const recipient of args) encrypter.addRecipient(recipient);
    process.stdout.write(await encrypter.encrypt(await stdin()));
} else if (command === "decrypt") {
    const decrypter = new age.Decrypter();
    for (const path of args) for (const id of identities(path)) decrypter.addIdentity(id);
    process.stdout.write(await decrypter.decrypt(await stdin()));
} else {
    console.error("usage: node typage.mjs keygen [--pq] | recipient FILE | "
        + "encrypt RECIPIENT... | decrypt FILE...");
    process.exit(2);
}
