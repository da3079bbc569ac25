// des.js ships no types; this is the part the VNC authentication uses.
declare module 'des.js' {
  interface BlockCipher {
    update(data: ArrayLike<number>): number[];
  }
  export const DES: {
    create(options: { type: 'encrypt' | 'decrypt'; key: ArrayLike<number> }): BlockCipher;
  };
}
